"""Relaying a WebSocket, or an HTTP command, to the process that owns its tenant (a
cluster, docs/scaling.md).

A connection that reaches a process that does not own its tenant is carried to
the owner: this process opens a WebSocket to the owner's address with the same
bearer (in ``Authorization``) and a :data:`RELAYED` header, then copies frames
both ways, unchanged, until either side closes; the close code and reason go
through to the other side. The owner authenticates and authorises as for any
connection, so the relay adds no rule of its own; the client sees one
connection, and when the owner goes away (1001, 1013) it reconnects and
resumes as it would after any close.

The upgrade is answered only once the owner accepted: an owner's refusal (401,
403, 503) reaches the client as the same status, and an owner that cannot be
reached is 503 (retryable). A relayed request is never relayed again (no loops):
a process that does not own its tenant refuses it with 503.

An HTTP command (``POST /v1/rpc/<command>``) is forwarded the same way: the same
path, body, bearer, ``Content-Type`` and ``Idempotency-Key`` to the owner, whose
answer (status, body, ``Content-Type``, ``Retry-After``, ``WWW-Authenticate``)
is the client's. The owner applies every rule (rate buckets included); the
relaying process has checked only what it can without the tenant (the origin,
the command's name, the body's size, the bearer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import WSMsgType, web

from pm_core.errors import (
    InvalidTenantIdError,
    TenantElsewhereError,
    UnauthenticatedError,
    UnavailableError,
)
from pm_core.tenancy import check_tenant_id

if TYPE_CHECKING:  # only built in a cluster: a single process never imports it
    from pm_server.ownership import Ownership

log = logging.getLogger(__name__)

#: Header a relaying process adds; its value is the relaying node's id.
RELAYED: Final = "X-PM-Relayed-By"
#: Seconds to connect to the owner before answering 503.
CONNECT_SECONDS: Final = 5.0

_REFUSALS: Final = {401: "UNAUTHENTICATED", 403: "FORBIDDEN"}
#: Request headers an HTTP command takes to the owner, and answer headers it brings back.
_FORWARDED: Final = ("Authorization", "Content-Type", "Accept", "Idempotency-Key")
_RETURNED: Final = ("Content-Type", "Retry-After", "WWW-Authenticate")
#: Seconds an HTTP command may take at the owner (its own deadline is shorter).
FORWARD_SECONDS: Final = 60.0
#: Close codes that only describe a close and may not be sent in a close frame (RFC 6455).
_UNSENDABLE: Final = frozenset({1005, 1006, 1015})


def is_relayed(request: web.Request) -> bool:
    return RELAYED in request.headers


async def owner_elsewhere(cluster: Ownership, request: web.Request, tenant_id: str) -> str | None:
    """The address of the process to relay to, or None when this one serves ``tenant_id``.
    A request relayed here already is not relayed again: TenantElsewhereError (503)."""
    try:
        check_tenant_id(tenant_id)  # before it names a key in Redis
    except InvalidTenantIdError:
        raise UnauthenticatedError("invalid tenant") from None
    address = await cluster.route(tenant_id)
    if address is not None and is_relayed(request):  # the owners disagree for a moment
        raise TenantElsewhereError(tenant_id, address)
    return address


class Relays:
    """This process's relayed connections and the HTTP client they use."""

    def __init__(self, node_id: str, max_frame_bytes: int, heartbeat: float) -> None:
        self.node_id = node_id
        self._max_frame_bytes = max_frame_bytes
        self._heartbeat = heartbeat
        self._session: aiohttp.ClientSession | None = None
        self.open: set[web.WebSocketResponse] = set()
        #: Relayed connections so far (for the log and the tests).
        self.total = 0

    async def relay(
        self, request: web.Request, address: str, token: str, protocols: tuple[str, ...]
    ) -> web.StreamResponse:
        """Carry this upgrade request to ``address`` and copy frames until either side closes."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            # An owner that is paused accepts TCP but never answers: bounded.
            async with asyncio.timeout(CONNECT_SECONDS):
                upstream = await self._session.ws_connect(
                    f"{address}/v1/ws",
                    headers={"Authorization": f"Bearer {token}", RELAYED: self.node_id},
                    protocols=protocols,
                    # The owner's frames (a replay's batch of events) may be larger than
                    # what clients may send: they are pm's own, passed on as they are.
                    max_msg_size=0,
                    autoclose=False,
                    autoping=True,
                    compress=0,
                    timeout=aiohttp.ClientWSTimeout(ws_close=CONNECT_SECONDS),
                )
        except aiohttp.WSServerHandshakeError as exc:
            code = _REFUSALS.get(exc.status, "UNAVAILABLE")
            return _refuse(request, exc.status, code, "refused by the tenant's server")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("relay to %s failed: %s", address, exc.__class__.__name__)
            return _refuse(request, 503, "UNAVAILABLE", "the tenant's server cannot be reached")
        ws = web.WebSocketResponse(
            protocols=protocols,
            max_msg_size=self._max_frame_bytes,
            heartbeat=self._heartbeat,
            compress=False,
        )
        try:
            await ws.prepare(request)
        except BaseException:
            await upstream.close()
            raise
        self.open.add(ws)
        self.total += 1
        try:
            await _pump(ws, upstream)
        finally:
            self.open.discard(ws)
        return ws

    async def forward(self, request: web.Request, address: str, body: bytes) -> web.Response:
        """The owner's answer to this HTTP command; UnavailableError when it cannot be
        reached."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        headers[RELAYED] = self.node_id
        try:
            async with (
                asyncio.timeout(FORWARD_SECONDS),
                self._session.post(
                    f"{address}{request.rel_url}", data=body, headers=headers
                ) as answer,
            ):
                payload = await answer.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("relay to %s failed: %s", address, exc.__class__.__name__)
            # The door answers it in the request's own encoding, as any refusal.
            raise UnavailableError("the tenant's server cannot be reached") from None
        self.total += 1
        response = web.Response(body=payload, status=answer.status)
        for name in _RETURNED:
            if name in answer.headers:
                response.headers[name] = answer.headers[name]
        return response

    async def close_all(self, code: int, reason: str) -> None:
        """Close every relayed connection (shutdown): its client reconnects and resumes."""
        await asyncio.gather(
            *(ws.close(code=code, message=reason.encode()) for ws in list(self.open)),
            return_exceptions=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _pump(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Copy binary and text frames both ways; the first close ends both sides with its code."""

    async def down() -> tuple[int, str]:
        async for message in upstream:
            if message.type == WSMsgType.BINARY:
                await client.send_bytes(message.data)
            elif message.type == WSMsgType.TEXT:
                await client.send_str(message.data)
            elif message.type == WSMsgType.CLOSE:
                return int(message.data), str(message.extra or "")
        return upstream.close_code or 1011, "the tenant's server closed the connection"

    async def up() -> tuple[int, str]:
        async for message in client:
            if message.type == WSMsgType.BINARY:
                await upstream.send_bytes(message.data)
            elif message.type == WSMsgType.TEXT:
                await upstream.send_str(message.data)
        return client.close_code or 1000, ""

    tasks = [asyncio.ensure_future(down()), asyncio.ensure_future(up())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finished = done.pop()
        code, reason = (1011, "relay failed") if finished.exception() else finished.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    if code in _UNSENDABLE:  # the owner vanished (killed, cut off): no code to pass on
        code, reason = 1011, "the tenant's server went away: reconnect and resume"
    if finished is tasks[0]:  # the owner closed: tell the client why
        await client.close(code=code, message=reason.encode()[:120])
        await upstream.close()
    else:
        await upstream.close(code=code)
        await client.close()


def _refuse(request: web.Request, status: int, code: str, message: str) -> web.Response:
    log.info("relay refused upgrade from %s: %d %s", request.remote, status, message)
    response = web.json_response({"code": code, "message": message}, status=status)
    response.force_close()
    return response
