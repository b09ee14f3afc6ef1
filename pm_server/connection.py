"""One WebSocket connection: the I/O around its :class:`~pm_server.session.Session`.

The session decides what waits for the client and when the client is a slow
consumer; this module only moves bytes and closes. Everything the server
sends (welcome, replies, errors, events) goes through :meth:`Connection.send`
or :meth:`Connection.deliver`, which never block. One writer task drains the
session's outbox, a reply as it is and consecutive events as one frame, so a
burst costs one send per subscriber per loop tick. Events of a connection
whose writer is idle skip the writer task: the :class:`~pm_server.fanout.Flusher`
writes them straight to the socket at the end of the tick (see
:mod:`pm_server.fanout` and :mod:`pm_server.wire`).

A session that overflows its bounds is closed with :data:`CLOSE_SLOW_CONSUMER`
at once (its outbox is dropped; the client resumes from its last ``seq``). A
direct write that fails closes the connection with :data:`CLOSE_INTERNAL`
(its events are gone; the client resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from aiohttp import web

from pm_auth.tokens import Principal
from pm_server import wire
from pm_server.fanout import Flusher, FrameCache
from pm_server.session import CLOSE_SLOW_CONSUMER, OVERFLOW, QUEUED, Session, Subscription

if TYPE_CHECKING:
    from pm_server.expiry import TokenExpiry

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011
#: The token's ``exp`` passed; reconnect with a fresh token (and resume).
CLOSE_TOKEN_EXPIRED: Final = 4001
#: The API key the connection was opened with was revoked; it is refused from now on.
CLOSE_CREDENTIAL_REVOKED: Final = 4003
#: The tenant's database was deleted by an operator.
CLOSE_TENANT_DELETED: Final = 4004
#: RFC 6455's "try again later": an operator is restoring or deleting the tenant.
CLOSE_TRY_AGAIN_LATER: Final = 1013

_SLOW_CONSUMER: Final = "slow consumer: reconnect and resume"

_FRAMES: Final = FrameCache()


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        principal: Principal,
        connection_id: str,
        *,
        max_queued_events: int,
        max_queued_event_bytes: int,
        max_subscriptions: int = 1_000,
        transport: asyncio.BaseTransport | None = None,
        flusher: Flusher | None = None,
    ) -> None:
        self.ws = ws
        #: Who the connection acts as; ``reauthenticate`` replaces it (same tenant and user).
        self.principal = principal
        #: Closes the connection with 4001 when the principal's token expires (set once served).
        self.expiry: TokenExpiry | None = None
        self.id = connection_id
        self.session = Session(
            max_frames=max_queued_events,
            max_bytes=max_queued_event_bytes,
            max_subscriptions=max_subscriptions,
        )
        self._transport = transport
        #: Writes events of an idle connection at the end of the tick (None: the writer does).
        self._direct = wire.direct_writer(transport) if flusher is not None else None
        self._flusher = flusher if self._direct is not None else None
        self._flush_requested = False
        self._writer_idle = False
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        #: Handler tasks in flight; a graceful close waits for their replies.
        self.tasks: set[asyncio.Task[None]] = set()
        self._writer_task: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()
        #: The close code and reason the server sent (None: the client closed first).
        self.sent_close: tuple[int, str] | None = None

    @property
    def closing(self) -> bool:
        return self.session.closing

    @property
    def close_code(self) -> int | None:
        return self.session.close_code

    @property
    def slow_consumer(self) -> bool:
        return self.session.slow_consumer

    def log_context(self) -> str:
        principal = self.principal
        context = f"conn={self.id} tenant={principal.tenant_id} user={principal.user_id}"
        if principal.api_key_id is not None:  # the key's loggable prefix, never its secret
            context += f" key=pmk.{principal.tenant_id}.{principal.api_key_id}"
        return context

    def log_ids(self) -> dict[str, str]:
        """The ids of a JSON log line about this connection written from another task."""
        return {"conn": self.id, "tenant": self.principal.tenant_id, "user": self.principal.user_id}

    def note_close(self, code: int, reason: str) -> None:
        """Record the close the server sent (the first one counts)."""
        if self.sent_close is None:
            self.sent_close = (code, reason)

    # -- queueing (never blocks) ---------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue one encoded ServerMessage (welcome, reply, error).

        Replies are still accepted while a graceful close waits for in-flight
        commands; only once the socket is about to close are they dropped.
        """
        outcome = self.session.send(frame)
        if outcome == QUEUED:
            self._kick()
        elif outcome == OVERFLOW:
            self._overflowed()

    def deliver(self, project_id: str, seq: int, event: bytes) -> None:
        """Queue one encoded Event of ``project_id`` (called by the hub)."""
        outcome = self.session.deliver(project_id, seq, event)
        if outcome:
            self._events_queued(outcome)

    def replayed(self, subscription: Subscription, seq: int, event: bytes) -> None:
        """Queue one stored event read by ``subscription``'s replay."""
        outcome = self.session.replayed(subscription, seq, event)
        if outcome:
            self._events_queued(outcome)

    def go_live(self, subscription: Subscription) -> None:
        """End ``subscription``'s replay and release the events it held."""
        outcome = self.session.go_live(subscription)
        if outcome:
            self._events_queued(outcome)

    async def drained(self) -> None:
        """Wait until the writer has sent everything queued so far (or the connection
        is closing: nothing more will be sent, so nobody should wait for it)."""
        await self._drained.wait()

    def _events_queued(self, outcome: int) -> None:
        if outcome == OVERFLOW:
            self._overflowed()
        elif self._flusher is None or not self._writer_idle:
            self._kick()
        else:
            self._drained.clear()
            if not self._flush_requested:
                self._flush_requested = True
                self._flusher.request(self)

    def flush(self) -> None:
        """Write the queued events straight to the socket (called by the Flusher at the
        end of the tick); whatever cannot go that way is left to the writer task."""
        self._flush_requested = False
        session = self.session
        direct = self._direct
        while self._writer_idle and session.head_is_events():
            if direct is None or session.closing or self.ws.closed or not direct.writable():
                break
            events = session.pop_events()
            try:
                direct.write(_FRAMES.wire(events))
            except Exception:  # its events are gone: the client must resume, not skip them
                log.exception(
                    "%s direct write failed: closing", self.log_context(), extra=self.log_ids()
                )
                session.close(CLOSE_INTERNAL, drop=True)
                self._start_close(CLOSE_INTERNAL, "internal error: reconnect and resume", 10.0)
                wire.abort(self._transport)
                return
        if session.queued_frames:
            self._kick()
        elif self._writer_idle:
            self._drained.set()

    def _kick(self) -> None:
        self._drained.clear()
        self._wake.set()

    def _overflowed(self) -> None:
        log.warning("%s slow consumer: closing", self.log_context(), extra=self.log_ids())
        self._start_close(CLOSE_SLOW_CONSUMER, _SLOW_CONSUMER, 0.0)

    # -- writer task and closing ----------------------------------------------

    def start_writer(self) -> None:
        self._writer_task = asyncio.get_running_loop().create_task(
            self._run_writer(), name=f"pm-conn-writer-{self.id}"
        )

    async def _run_writer(self) -> None:
        session = self.session
        ws = self.ws
        while True:
            frame = session.pop()
            if frame is None:
                self._drained.set()
                if session.send_closed:
                    return
                self._wake.clear()
                self._writer_idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._writer_idle = False
                continue
            if isinstance(frame, list):
                frame = _FRAMES.payload(frame)
            await ws.send_bytes(frame)

    def begin_close(self, code: int, message: str, grace: float = 10.0) -> None:
        """Close the socket with ``code``. Never blocks.

        No new events are queued from now on. A graceful close first lets the
        commands in flight finish (up to ``grace`` seconds) and sends their
        replies; a slow consumer's outbox is dropped at once.
        """
        if self.session.close(code):
            self._start_close(code, message, grace)

    def _start_close(self, code: int, message: str, grace: float) -> None:
        self.note_close(code, message)
        if self.session.send_closed:
            self._drained.set()  # release a replay waiting for a reader that is gone
        if self._closer is not None:
            return
        self._wake.set()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, message, grace))

    async def _close(self, code: int, message: str, grace: float) -> None:
        session = self.session
        if self.tasks and not session.send_closed:
            await asyncio.wait(set(self.tasks), timeout=grace)
        session.stop_sending()
        self._wake.set()
        writer = self._writer_task
        if writer is not None:
            if code == CLOSE_SLOW_CONSUMER:
                writer.cancel()
            # A peer that stopped reading can hold a send forever: bound the wait.
            await asyncio.wait({writer}, timeout=2)
            writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message.encode()), timeout=2)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            wire.abort(self._transport)
            if task is not None and task.cancelling():
                raise
        except Exception:
            wire.abort(self._transport)
        if code == CLOSE_SLOW_CONSUMER:
            # Its socket buffer is full, so a graceful close cannot complete.
            wire.abort(self._transport)

    async def wait_finished(self) -> None:
        await self._finished.wait()

    async def finish(self) -> None:
        """After the reader loop ended: stop the writer and wait for any close in progress."""
        try:
            await self._finish()
        finally:
            self._finished.set()

    async def _finish(self) -> None:
        self.session.stop_sending()
        self._drained.set()
        self._wake.set()
        if self._closer is not None:
            await self._closer
        if self._writer_task is not None:
            if not self._writer_task.done():
                await asyncio.wait({self._writer_task}, timeout=2)
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._writer_task
