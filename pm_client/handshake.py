"""Opening one connection: the URL, the upgrade with the token, refusals, the welcome.

A refused upgrade is an HTTP answer with a JSON body ``{"code", "message"}``.
aiohttp raises WSServerHandshakeError without that body, so a session
middleware keeps it, and the refusal becomes a ConnectError with the status
and the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from google.protobuf.message import DecodeError

from pm_client.errors import ConnectError
from pm_proto.v1 import envelope_pb2

WS_PATH: Final = "/v1/ws"
#: Largest frame the client accepts from the server.
MAX_RECEIVE_BYTES: Final = 64 * 1024 * 1024


def ws_url(url: str) -> str:
    """The WebSocket URL for ``url``: ``http(s)`` becomes ``ws(s)``; no path means ``/v1/ws``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a pm server URL: {url!r} (e.g. ws://127.0.0.1:8700/v1/ws)")
    path = parts.path if parts.path not in ("", "/") else WS_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Connector:
    """Opens WebSockets to one server with one token, one at a time; owns the HTTP session."""

    def __init__(self, url: str, token: str, *, timeout: float, heartbeat: float | None) -> None:
        self.url = ws_url(url)
        #: The bearer of the next connection (the client replaces an expired one).
        self.token = token
        self.timeout = timeout
        self.heartbeat = heartbeat
        self._session: aiohttp.ClientSession | None = None
        self._refusal: tuple[int, bytes] | None = None

    async def open(self) -> tuple[aiohttp.ClientWebSocketResponse, envelope_pb2.Welcome]:
        """A new connection and the server's welcome on it; ConnectError when impossible."""
        if self._session is None:
            self._session = aiohttp.ClientSession(middlewares=(self._keep_refusal,))
        self._refusal = None
        try:
            async with asyncio.timeout(self.timeout):
                ws = await self._session.ws_connect(
                    self.url,
                    headers={"Authorization": f"Bearer {self.token}"},
                    heartbeat=self.heartbeat,
                    max_msg_size=MAX_RECEIVE_BYTES,
                )
                try:
                    return ws, await _read_welcome(ws)
                except BaseException:
                    await ws.close()
                    raise
        except aiohttp.WSServerHandshakeError as exc:
            raise self._refused(exc.status) from exc
        except TimeoutError as exc:
            raise ConnectError(f"no answer from {self.url} within {self.timeout:g}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectError(f"cannot connect to {self.url}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _keep_refusal(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """Session middleware: keep the body of a refused upgrade (aiohttp drops it)."""
        response = await handler(request)
        if response.status != 101:
            body = b""
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                body = await response.read()
            self._refusal = (response.status, body)
        return response

    def _refused(self, status: int) -> ConnectError:
        code: str | None = None
        detail = ""
        if self._refusal is not None and self._refusal[0] == status:
            try:
                body = json.loads(self._refusal[1])
            except ValueError:
                body = None
            if isinstance(body, dict):
                code = str(body["code"]) if "code" in body else None
                detail = str(body.get("message", ""))
        text = f"{self.url} refused the connection: HTTP {status}"
        if code:
            text += f" {code}"
        if detail:
            text += f": {detail}"
        return ConnectError(text, status=status, code=code)


async def _read_welcome(ws: aiohttp.ClientWebSocketResponse) -> envelope_pb2.Welcome:
    frame = await ws.receive()
    if frame.type != aiohttp.WSMsgType.BINARY:
        raise ConnectError(f"the server closed the connection before its welcome ({frame.type})")
    try:
        message = envelope_pb2.ServerMessage.FromString(frame.data)
    except DecodeError as exc:
        raise ConnectError("the server's first frame is not a pm message") from exc
    if message.WhichOneof("kind") != "welcome":
        raise ConnectError("the server's first frame is not a welcome")
    return message.welcome
