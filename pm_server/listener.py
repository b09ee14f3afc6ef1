"""The listening socket: aiohttp's server behind a guard on each request head.

aiohttp reads a request's head for as long as the client takes (500 clients
sending their upgrade request a byte a second held their sockets for good),
answers an over-long header line with 400 and an ERROR traceback quoting the
line (an ``Authorization`` header is a token), and has no bound on connections
that never finish a request. So every new connection first meets a
:class:`_Guard` protocol that stands in front of aiohttp's until the first
request head is complete:

- at most ``PM_MAX_HANDSHAKES`` connections may be in that state; one more is
  answered ``503`` and closed at once;
- the whole head must arrive within ``PM_HANDSHAKE_TIMEOUT_SECONDS``, else
  ``408`` and close;
- it may hold at most ``PM_MAX_REQUEST_HEAD_BYTES`` bytes, else ``431`` and
  close, with one INFO line that quotes nothing the client sent.

Once the head is complete the guard passes bytes through untouched. Plain HTTP
connections are kept alive (aiohttp's default), and the guard guards every request
on them, not only the first: after each response the app re-arms it
(:func:`keep_alive`), so the next head, from its first byte, meets the same
deadline, size bound and count. An idle kept-alive connection is not counted
(aiohttp closes it after ``keepalive_timeout``, set to the same deadline). A
WebSocket upgrade makes the guard step aside (``transport.set_protocol``): frames
cost nothing more. A response sent before the request's whole body came (an early
refusal) closes its connection instead, since the guard could not tell the rest of
that body from the next head. Only a request pipelined in the same packets right
behind another is aiohttp's alone (400 for an over-long head); whatever aiohttp
logs is scrubbed by :mod:`pm_server.logs`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final, cast

from aiohttp import web

from pm_server.settings import Settings

log = logging.getLogger(__name__)

#: Where a request head ends, with CRLF or (as lenient parsers accept) bare LF lines.
_HEAD_ENDS: Final = (b"\r\n\r\n", b"\n\n")

#: Seconds a refused connection may stay half-closed for the client to read the answer.
_LINGER_SECONDS: Final = 2.0

#: ``pm_connections_refused_total`` reasons of the guard.
REFUSED_HANDSHAKES: Final = "max_handshakes"
REFUSED_TIMEOUT: Final = "handshake_timeout"
REFUSED_HEAD: Final = "request_head_too_large"


def make_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner of ``app``: no access log (a query string may hold a token), and
    aiohttp's limits on a request head at least the guard's."""
    return web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        max_line_size=settings.max_request_head_bytes,
        max_field_size=settings.max_request_head_bytes,
        keepalive_timeout=settings.handshake_timeout_seconds,
    )


async def keep_alive(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: keep the connection for the client's next request, with the
    guard re-armed for its head; step aside for a WebSocket upgrade (101). A response sent
    before the request's whole body came (an early refusal) closes the connection: the guard
    would count the rest of that body as the next head."""
    transport = request.transport
    guard = transport.get_protocol() if transport is not None else None
    if not isinstance(guard, _Guard):
        return  # not behind a guard (a test's bare site): aiohttp's own rules
    if response.status == 101:
        guard.step_aside()
    elif request.content.is_eof():
        guard.rearm()
    else:
        response.force_close()
        response.headers["Connection"] = "close"  # headers are built before this hook runs


class GuardedSite(web.BaseSite):
    """A TCP site whose connections meet the request-head guard first."""

    __slots__ = ("_guard", "_host", "_port", "_sock")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        settings: Settings,
        on_refused: Callable[[str], None] = lambda reason: None,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        #: A listening socket handed over by a parent (``pm serve --workers``): served as is.
        self._sock = sock
        self._guard = HeadGuard(
            timeout=settings.handshake_timeout_seconds,
            max_pending=settings.max_handshakes,
            max_head_bytes=settings.max_request_head_bytes,
            on_refused=on_refused,
        )

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def bound(self) -> tuple[str, int]:
        """The address the site listens on (with port 0, the port the system picked)."""
        assert self._server is not None, "the site is started"
        sockets = self._server.sockets  # type: ignore[attr-defined]
        host, port = sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def pending(self) -> int:
        """Connections that have not finished their request head."""
        return self._guard.pending

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "the runner is set up before its sites start"
        self._guard.factory = server
        # BaseSite.stop() closes self._server and the runner reads its sockets' addresses.
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(self._guard, sock=self._sock)
            return
        self._server = await loop.create_server(
            self._guard, self._host, self._port, backlog=self._backlog, reuse_address=True
        )


class HeadGuard:
    """The protocol factory of the site: one :class:`_Guard` per connection."""

    def __init__(
        self,
        *,
        timeout: float,
        max_pending: int,
        max_head_bytes: int,
        on_refused: Callable[[str], None],
    ) -> None:
        self.factory: Callable[[], asyncio.Protocol] | None = None
        self.timeout = timeout
        self.max_pending = max_pending
        self.max_head_bytes = max_head_bytes
        self.on_refused = on_refused
        self.pending = 0

    def __call__(self) -> asyncio.Protocol:
        return _Guard(self)


class _Guard(asyncio.Protocol):
    """Stands in front of aiohttp's protocol until the first request head is complete."""

    def __init__(self, owner: HeadGuard) -> None:
        self._owner = owner
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._counted = False
        self._seen = 0
        self._tail = b""
        self._refused = False
        #: Between requests of a kept-alive connection: the next byte starts a new head.
        self._idle = False
        #: The current head is complete: bytes pass through until the guard is re-armed.
        self._passing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        if not self._start_head():
            return
        owner = self._owner
        assert owner.factory is not None
        self._inner = owner.factory()
        self._inner.connection_made(self._transport)

    def data_received(self, data: bytes) -> None:
        inner = self._inner
        if inner is None or self._transport is None or self._refused:
            return  # refused: whatever else arrives is dropped
        if self._idle:
            self._begin_head()
            if self._refused:
                return
        elif self._passing:
            inner.data_received(data)
            return
        window = self._tail + data
        end = min((i + len(m) for m in _HEAD_ENDS if (i := window.find(m)) >= 0), default=-1)
        limit = self._owner.max_head_bytes
        if end < 0:
            self._seen += len(data)
            if self._seen > limit:
                self._refuse_head()
                return
            self._tail = window[-3:]
            inner.data_received(data)
            return
        if self._seen + end - len(self._tail) > limit:
            self._refuse_head()
            return
        self._done()
        self._passing = True
        inner.data_received(data)

    def rearm(self) -> None:
        """The response to the current request is on its way: the next bytes are a new head."""
        if not self._refused and self._passing:
            self._passing = False
            self._idle = True

    def step_aside(self) -> None:
        """The connection is upgraded (a WebSocket): hand it to aiohttp's protocol for good."""
        if self._inner is not None and self._transport is not None and not self._refused:
            self._done()
            self._transport.set_protocol(self._inner)

    def _begin_head(self) -> None:
        """A kept-alive connection starts its next request: count it and time it."""
        self._idle = False
        self._seen = 0
        self._tail = b""
        self._start_head()

    def _start_head(self) -> bool:
        """Count a request head among those pending and time it; False if refused (too many)."""
        owner = self._owner
        if owner.pending >= owner.max_pending:
            self._refuse(
                REFUSED_HANDSHAKES,
                HTTPStatus.SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                f"more than {owner.max_pending} connections are still sending their request",
            )
            return False
        owner.pending += 1
        self._counted = True
        self._timer = asyncio.get_running_loop().call_later(owner.timeout, self._expire)
        return True

    def eof_received(self) -> bool | None:
        if self._refused or self._inner is None:
            return None  # close our side too
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._done()  # also ends a refused connection's linger
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def _done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._counted = False
            self._owner.pending -= 1

    def _expire(self) -> None:
        self._timer = None
        self._refuse(
            REFUSED_TIMEOUT,
            HTTPStatus.REQUEST_TIMEOUT,
            "UNAVAILABLE",
            f"the request was not received within {self._owner.timeout:g}s",
        )

    def _refuse_head(self) -> None:
        self._refuse(
            REFUSED_HEAD,
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            "INVALID_MESSAGE",
            f"the request head is larger than {self._owner.max_head_bytes} bytes",
        )

    def _refuse(self, reason: str, status: HTTPStatus, code: str, message: str) -> None:
        transport = self._transport
        self._done()
        self._refused = True
        if transport is None or transport.is_closing():
            return
        log.info(
            "refused a connection from %s: %d %s",
            _peer(transport),
            status.value,
            message,
        )
        self._owner.on_refused(reason)
        body = json.dumps({"code": code, "message": message}).encode()
        transport.write(
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        if not transport.can_write_eof():
            transport.close()
            return
        # Closing while the client is still sending would answer its bytes with a reset,
        # which can destroy the answer before the client reads it: send FIN instead, drop
        # what still arrives, and close when the client does (or after a short linger).
        transport.write_eof()
        self._timer = asyncio.get_running_loop().call_later(_LINGER_SECONDS, transport.abort)


def _peer(transport: asyncio.BaseTransport) -> str:
    peer: Any = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
