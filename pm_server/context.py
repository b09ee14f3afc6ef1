"""What a handler gets: who is asking, the tenant's database, and the connection.

A command that came through the HTTP door (:mod:`pm_server.rpc`) has no
connection: the commands that need one (subscriptions, presence, ping,
``reauthenticate``) are served over the WebSocket only, and one reaching a
handler anyway gets INVALID_MESSAGE rather than a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pm_auth.tokens import Principal
from pm_core.errors import InvalidMessageError
from pm_db.database import TenantDatabase
from pm_proto.v1 import envelope_pb2
from pm_server.settings import Settings

if TYPE_CHECKING:
    from pm_server.connection import Connection
    from pm_server.hub import Hub
    from pm_server.webhooks import WebhookService


#: What a handler answers: a reply to encode, or one already encoded (a mutation's,
#: without its request id).
Answer = envelope_pb2.Reply | bytes


@dataclass(frozen=True, slots=True)
class Context:
    principal: Principal
    db: TenantDatabase
    hub: Hub
    #: The WebSocket the command came on; None over HTTP (read it as :attr:`connection`).
    socket: Connection | None
    request_id: str
    #: Work to run after the reply is queued, still holding the tenant open
    #: (a subscription's replay must follow its reply).
    deferred: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Every open connection of the process (revoking an API key closes those carrying it).
    open_connections: set[Connection] = field(default_factory=set)
    settings: Settings = field(kw_only=True)
    #: The webhook deliveries (None where a door serves no webhook commands).
    webhooks: WebhookService | None = field(default=None, kw_only=True)

    @property
    def connection(self) -> Connection:
        """The command's WebSocket connection (INVALID_MESSAGE for a command sent over HTTP)."""
        if self.socket is None:
            raise InvalidMessageError("this command is served over the WebSocket only (/v1/ws)")
        return self.socket

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id
