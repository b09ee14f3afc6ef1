"""Fencing tokens: the tenant database refuses commits of a process that lost the tenant.

In a cluster (docs/scaling.md) a tenant is owned by one pm process at a time,
through a lease in Redis. A lease can end behind an owner's back (the process
paused, or cut off from Redis, longer than the lease) while it still holds writes
to commit. So each acquisition of a lease comes with a fencing token, a number
that only grows, and:

- the new owner writes its token into ``tenant_meta`` (key ``fence``) when it
  opens the database (:func:`claim`), in a write transaction, before it reads
  the last event seq: a commit of the old owner is either before it (and seen)
  or refused;
- every write transaction checks, before its ``COMMIT`` and under the write lock
  ``BEGIN IMMEDIATE`` took, that the stored token is still its own
  (:func:`check`): one indexed read per commit group, not per command.

A token below the stored one (Redis lost its counters, see
:class:`StaleFenceError`) claims nothing: the owner asks Redis for a token above
the stored one and claims again. The stored token itself may be claimed again:
only the process that drew it from Redis holds it (an owner reopening a tenant
it closed while keeping its lease). With no token (no cluster) nothing is
written or checked.
"""

from __future__ import annotations

import sqlite3
from typing import Final, Protocol

from pm_core.errors import TenantFencedError

FENCE_KEY: Final = "fence"
_READ: Final = "SELECT value FROM tenant_meta WHERE key = 'fence'"
_WRITE: Final = (
    "INSERT INTO tenant_meta (key, value) VALUES ('fence', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class StaleFenceError(Exception):
    """The token offered is below the one stored (``stored``): ask for a higher one."""

    def __init__(self, tenant_id: str, token: int, stored: int) -> None:
        super().__init__(f"tenant {tenant_id}: fencing token {token} is below {stored}")
        self.tenant_id = tenant_id
        self.token = token
        self.stored = stored


class FenceSource(Protocol):
    """Where a process gets its fencing token for a tenant (the cluster's ownership).

    ``acquire`` returns a token above ``above`` while this process owns the tenant, or
    raises (TenantElsewhereError when another process owns it, UnavailableError when
    ownership cannot be known). ``released`` is told once the tenant's database is closed.
    """

    async def acquire(self, tenant_id: str, above: int) -> int: ...

    def released(self, tenant_id: str, token: int) -> None: ...


def stored(conn: sqlite3.Connection) -> int:
    """The token stored in the database (0: none yet)."""
    row = conn.execute(_READ).fetchone()
    return 0 if row is None else int(row[0])


def claim(conn: sqlite3.Connection, tenant_id: str, token: int) -> None:
    """Store ``token`` unless it is below the stored one (one write transaction), else
    raise StaleFenceError and write nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = stored(conn)
        if token < current:
            raise StaleFenceError(tenant_id, token, current)
        conn.execute(_WRITE, (str(token),))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def check(conn: sqlite3.Connection, tenant_id: str, token: int) -> None:
    """Inside a write transaction: raise TenantFencedError unless ``token`` is the stored one."""
    if stored(conn) != token:
        raise TenantFencedError(tenant_id)
