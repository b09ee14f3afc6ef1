"""Asking the servers on a data dir to let go of one tenant: the maintenance marker.

``pm tenant restore`` and ``delete`` need SQLite's exclusive lock on the tenant,
which a server serving it holds. Instead of stopping the server, they create
``<data_dir>/tenants/.maintenance-<tenant>`` and wait for the lock. Every server
looks for the markers of the tenants it has open once a second (and for a
tenant's marker whenever it opens that tenant): it closes the tenant's
connections (1013, try again later), lets the commands in flight finish, closes
the database and refuses the tenant (503 / UNAVAILABLE, retryable) while the
marker exists. Once it holds the lock the command does its work and removes the
marker; the next connection opens what is there now.

A file rather than an HTTP endpoint or a socket: whoever may restore a tenant can
write the data dir already, so no new credential or listener is needed, and
every process serving the data dir sees it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pm_core.errors import TenantBusyError
from pm_db.admin import in_use
from pm_db.paths import TenantPaths

#: How often a waiting command looks whether the servers let go.
POLL_SECONDS = 0.05


def marker(paths: TenantPaths, tenant_id: str) -> Path:
    """The tenant's marker (outside the tenant list: a leading dot)."""
    paths.tenant_dir(tenant_id)  # validates the id
    return paths.root / f".maintenance-{tenant_id}"


def under_maintenance(paths: TenantPaths, tenant_id: str) -> bool:
    return marker(paths, tenant_id).exists()


@contextmanager
def released(paths: TenantPaths, tenant_id: str, wait: float) -> Iterator[None]:
    """Hold the tenant's marker for the block, once no server holds the tenant open.

    Waits up to ``wait`` seconds for the servers to let go, then raises
    TenantBusyError; the marker is removed when the block ends, whatever happens.
    """
    path = marker(paths, tenant_id)
    paths.root.mkdir(parents=True, exist_ok=True)
    path.write_text(f"pid {os.getpid()}\n")
    try:
        database = paths.db_path(tenant_id)
        deadline = time.monotonic() + wait
        while database.is_file() and in_use(database, tenant_id):
            if time.monotonic() >= deadline:
                raise TenantBusyError(tenant_id)
            time.sleep(POLL_SECONDS)
        yield
    finally:
        path.unlink(missing_ok=True)
