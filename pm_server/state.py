"""The server's shared state, one object per app (``app[STATE]``)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from pm_auth.tokens import TokenVerifier
from pm_db.tenants import TenantDatabases
from pm_server.connection import CLOSE_GOING_AWAY, Connection
from pm_server.fanout import Flusher
from pm_server.hub import Hub
from pm_server.metrics import Metrics
from pm_server.settings import Settings
from pm_server.webhooks import WebhookService

if TYPE_CHECKING:  # a cluster's modules load only when PM_REDIS_URL is set
    from pm_server.ownership import Ownership
    from pm_server.relay import Relays

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ServerState:
    settings: Settings
    databases: TenantDatabases
    verifier: TokenVerifier
    hub: Hub
    metrics: Metrics
    webhooks: WebhookService
    connections: set[Connection] = field(default_factory=set)
    flusher: Flusher = field(default_factory=Flusher)
    #: A cluster's tenant ownership and relayed connections (None: one process).
    cluster: Ownership | None = None
    relays: Relays | None = None
    ready: bool = False
    draining: bool = False
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _prefix: str = field(default_factory=lambda: secrets.token_hex(4))

    def listening_on(self, port: int) -> None:
        """The server listens on ``port``: with ``PM_PORT=0`` the settings take the port the
        system picked, so that links built from them (``base_url``) name a port that answers."""
        if self.settings.port == 0:
            self.settings = self.settings.model_copy(update={"port": port})

    def new_connection_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def drain(self, grace: float, delay: float = 0.0) -> None:
        """Refuse new connections (and /readyz), wait ``delay``, then close every socket
        with GOING_AWAY once its queued replies are sent, waiting up to ``grace``."""
        if self.draining:
            return
        self.draining = True
        self.ready = False
        if delay:
            await asyncio.sleep(delay)
        log.info("draining %d connections", len(self.connections))
        if self.relays is not None:
            await self.relays.close_all(CLOSE_GOING_AWAY, "server shutting down")
        connections = list(self.connections)
        for connection in connections:
            connection.begin_close(CLOSE_GOING_AWAY, "server shutting down", grace)
        if connections:
            await asyncio.wait(
                [asyncio.ensure_future(c.wait_finished()) for c in connections], timeout=grace
            )


STATE = web.AppKey("state", ServerState)
