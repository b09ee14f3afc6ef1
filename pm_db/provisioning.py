"""Creating a tenant on purpose: its database appears complete, with its first rows, or not at all.

With an identity provider configured the server never creates a tenant for a
token (see the README's provisioning rule); an operator does, with ``pm tenant
create``. :func:`create_tenant` builds the database in a private file in the
tenants folder (migrated, then the caller's first rows written in one
transaction), and hard-links it into place, which fails atomically if the
tenant appeared meanwhile. A crash leaves only a scratch file, never a tenant
without its first admin.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from pm_core.errors import TenantExistsError
from pm_db.codec import utc_now
from pm_db.migrator import load_migrations, migrate
from pm_db.paths import TenantPaths, connect, publish_new, remove_with_sidecars
from pm_db.unit_of_work import UnitOfWork

T = TypeVar("T")


def create_tenant(paths: TenantPaths, tenant_id: str, setup: Callable[[UnitOfWork], T]) -> T:
    """Create the new tenant ``tenant_id`` with the rows ``setup`` writes; returns its result.

    TenantExistsError if the tenant has a database already (or gets one meanwhile).
    """
    path = paths.db_path(tenant_id)  # validates the id before any path is built
    if path.exists():
        raise TenantExistsError(tenant_id, "pick another id, or delete it first")
    paths.root.mkdir(parents=True, exist_ok=True)
    staging = paths.scratch("create", tenant_id)
    try:
        conn = connect(staging, create=True)
        try:
            conn.row_factory = sqlite3.Row  # what the repositories read rows as
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, load_migrations())
            result = _write(conn, setup)
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        publish_new(staging, path, tenant_id, "it was created meanwhile")
    finally:
        remove_with_sidecars(staging)
    return result


def _write(conn: sqlite3.Connection, setup: Callable[[UnitOfWork], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = setup(UnitOfWork(conn, utc_now()))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
