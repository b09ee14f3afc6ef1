"""When a connection's token expires, and how a fresh one moves that moment.

A connection acts as the principal of the token it connected with until that
token's ``exp``; then it is closed with 4001. :meth:`TokenExpiry.renew` (the
``reauthenticate`` command) verifies a fresh access token exactly as the
upgrade does and, if it names the same tenant and user, makes it the
connection's principal: the deadline moves to the new ``exp`` (and the user's
roles to the new token's), so a board left open all day never drops while its
client keeps refreshing. Subscriptions, the outbox and the event stream are
untouched: nothing is replayed, nothing is missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final

from pm_auth.tokens import Principal, TokenVerifier
from pm_core.errors import ForbiddenError

if TYPE_CHECKING:
    from pm_server.connection import Connection

log = logging.getLogger(__name__)

ANOTHER_PRINCIPAL: Final = "the token names another tenant or user than this connection's"
API_KEY_CONNECTION: Final = "a connection opened with an API key does not expire: nothing to renew"


class TokenExpiry:
    """The 4001 deadline of one connection (its timer runs on the event loop)."""

    def __init__(
        self,
        connection: Connection,
        verifier: TokenVerifier,
        on_expired: Callable[[], None],
        now: Callable[[], datetime],
    ) -> None:
        self._connection = connection
        self._verifier = verifier
        self._on_expired = on_expired
        self._now = now
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._schedule()

    async def renew(self, token: str) -> Principal:
        """The principal of ``token`` once it replaced the connection's.

        UNAUTHENTICATED for a token that does not verify, FORBIDDEN for one of
        another tenant or user; either way the connection keeps its principal
        and its deadline.
        """
        connection = self._connection
        current = connection.principal
        if current.api_key_id is not None:
            # Its key must stay what revocation finds it by (and keys never expire).
            raise ForbiddenError(API_KEY_CONNECTION)
        principal = await self._verifier.verify_current(token)
        if (principal.tenant_id, principal.user_id) != (current.tenant_id, current.user_id):
            raise ForbiddenError(ANOTHER_PRINCIPAL)
        connection.principal = principal
        self._schedule()
        log.info("%s reauthenticated until %s", connection.log_context(), principal.expires_at)
        return principal

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        self.cancel()
        expires_at = self._connection.principal.expires_at
        remaining = (expires_at - self._now()).total_seconds()
        self._timer = asyncio.get_running_loop().call_later(max(0.0, remaining), self._on_expired)
