"""What a handler gets: who is asking, the tenant's database, and the connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pm_auth.tokens import Principal
from pm_db.database import TenantDatabase
from pm_proto.v1 import envelope_pb2
from pm_server.settings import Settings

if TYPE_CHECKING:
    from pm_server.connection import Connection
    from pm_server.hub import Hub


#: What a handler answers: a reply to encode, or one already encoded (a mutation's,
#: without its request id).
Answer = envelope_pb2.Reply | bytes


@dataclass(frozen=True, slots=True)
class Context:
    principal: Principal
    db: TenantDatabase
    hub: Hub
    connection: Connection
    request_id: str
    #: Work to run after the reply is queued, still holding the tenant open
    #: (a subscription's replay must follow its reply).
    deferred: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Every open connection of the process (revoking an API key closes those carrying it).
    open_connections: set[Connection] = field(default_factory=set)
    settings: Settings = field(kw_only=True)

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id
