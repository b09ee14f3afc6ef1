"""New tenants start as a copy of one blank database, migrated once per process.

Migrating an empty file costs about 10 ms of CPU and eight fsyncs (the switch to
WAL, then the checkpoint at close), paid by the first connection of every new
tenant, on a write thread. Instead the migrations run once, in memory, and each
new tenant's file is that image written to a private scratch file, given its own
epoch and creation time, switched to WAL there (fsync off: the file is not the
tenant's yet), then published the way every new database is (:func:`publish_new`:
one fsync and a hard link, which appears whole or not at all). A crash leaves a
scratch file, never a half-made tenant.

``schema_migrations.applied_at`` of a tenant made this way is when its process
built the image, not when the tenant appeared (``tenant_meta.created_at`` is).
"""

from __future__ import annotations

import functools
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pm_core.errors import TenantExistsError
from pm_db.migrator import Migration, migrate
from pm_db.paths import TenantPaths, publish_new, remove_with_sidecars
from pm_db.repositories.meta import TenantMetaRepository


@functools.lru_cache(maxsize=4)
def image(migrations: tuple[Migration, ...]) -> bytes:
    """The bytes of an empty database with ``migrations`` applied (built once per set)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, migrations)
        return conn.serialize()
    finally:
        conn.close()


def create(paths: TenantPaths, tenant_id: str, migrations: tuple[Migration, ...]) -> None:
    """Give ``tenant_id`` its database from the blank image, unless it has one already.

    Two processes creating the same tenant at once: one hard link wins, the other
    finds the file there and returns, as if it had been there before.
    """
    path = paths.db_path(tenant_id)
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = paths.scratch("blank", tenant_id)
    try:
        with os.fdopen(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(image(migrations))
        _make_own(staging)
        publish_new(staging, path, tenant_id, "it was created meanwhile")
    except TenantExistsError:
        pass
    finally:
        remove_with_sidecars(staging)


def _make_own(staging: Path) -> None:
    """The copy's own epoch and creation time, and WAL mode (persistent in the file)."""
    conn = sqlite3.connect(staging, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # publish_new fsyncs the finished file
        conn.execute("BEGIN IMMEDIATE")
        TenantMetaRepository(conn).new_epoch()
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        conn.execute("UPDATE tenant_meta SET value = ? WHERE key = 'created_at'", (created,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
