"""The server's side of a cluster: ownership and relays wired to its tenants and connections.

Imported only when ``PM_REDIS_URL`` is set (by :mod:`pm_server.app`), so a single
process never loads Redis. What a cluster changes for the server:

- a tenant is opened only with a lease of this process (its fencing token, see
  :mod:`pm_db.fencing`), and closing it lets the lease go;
- a connection whose tenant another process owns is relayed there
  (:mod:`pm_server.relay`);
- a tenant whose lease this process lost, or whose database refused a commit
  with another owner's fence, is let go: its connections close with 1013 (try
  again later), and their clients reconnect, reach the new owner, and resume;
- a drain (``SIGUSR1``) lets go of every tenant the same way and takes no new
  one: the node then only relays, and can be stopped with no client losing
  more than a resume.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import Final

from pm_db.tenants import TenantDatabases
from pm_server.connection import CLOSE_TRY_AGAIN_LATER
from pm_server.limits import ServerLimits
from pm_server.ownership import Ownership
from pm_server.relay import Relays
from pm_server.settings import Settings
from pm_server.state import ServerState

log = logging.getLogger(__name__)

MOVED: Final = "tenant moved to another pm process: reconnect and resume"


def node_id() -> str:
    """This process's name in the registry: host, pid and a random part (a restarted
    process with a recycled pid is another node)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def build(settings: Settings, databases: TenantDatabases) -> tuple[Ownership, Relays]:
    """The ownership (its ``on_lost`` is connected by :func:`attach`) and the relays."""
    assert settings.redis_url is not None
    name = node_id()
    ownership = Ownership(
        settings.redis_url,
        name,
        lease_seconds=settings.cluster_lease_seconds,
        in_use=databases.holds,
        on_lost=lambda tenant_id: None,
    )
    databases.fences = ownership
    relays = Relays(name, settings.max_frame_bytes, settings.heartbeat_seconds)
    return ownership, relays


def attach(state: ServerState, ownership: Ownership, limits: ServerLimits) -> None:
    """A lost lease lets the tenant go here; a tenant with connections open here keeps
    its lease when its database closes."""
    ownership.on_lost_callback(lambda tenant_id: _lost(state, tenant_id))
    ownership.serving_callback(lambda tenant_id: limits.tenant_connections(tenant_id) > 0)


def _lost(state: ServerState, tenant_id: str) -> None:
    let_go(state, tenant_id)


def let_go(state: ServerState, tenant_id: str) -> int:
    """Close the tenant's connections with 1013 (their commands in flight are answered
    first) and its database (queued writes finish or are fenced); returns how many
    connections were closed."""
    closed = 0
    for connection in list(state.connections):
        if connection.principal.tenant_id == tenant_id and not connection.closing:
            connection.begin_close(
                CLOSE_TRY_AGAIN_LATER, MOVED, state.settings.shutdown_grace_seconds
            )
            closed += 1
    state.databases.release(tenant_id)
    return closed


async def drain(state: ServerState) -> None:
    """Let go of every tenant and take no new one (``SIGUSR1``): they move to other nodes."""
    ownership = state.cluster
    if ownership is None or ownership.draining:
        return
    ownership.draining = True
    tenants = ownership.owned()
    closed = sum(let_go(state, tenant_id) for tenant_id in tenants)
    log.info(
        "cluster: draining: %d tenants let go, %d connections closed to move", len(tenants), closed
    )
    await ownership.announce()
