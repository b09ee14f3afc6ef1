"""A lean protocol client for load: one WebSocket, request/reply by request id, events.

Leaner than the product client on purpose: no reconnect, no retries, no
validation beyond what a load generator needs. Request ids carry a per-process
random prefix, so clients of the same user never collide in the server's
idempotency records.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from google.protobuf.message import Message

from pm_proto.v1 import envelope_pb2, events_pb2

EventsCallback = Callable[[Sequence[events_pb2.Event], float], None]

#: Longest wait for a welcome or a reply; a load generator that waits longer is stuck.
REPLY_TIMEOUT_S = 120.0

_PROCESS_PREFIX = secrets.token_hex(3)
_CLIENT_IDS = itertools.count()


class RequestFailed(RuntimeError):
    def __init__(self, error: envelope_pb2.Error) -> None:
        super().__init__(f"{envelope_pb2.ErrorCode.Name(error.code)}: {error.message}")
        self.error = error


class Client:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_events: EventsCallback | None):
        self.ws = ws
        self.on_events = on_events
        self.welcome = envelope_pb2.Welcome()
        self._pending: dict[str, asyncio.Future[envelope_pb2.ServerMessage]] = {}
        self._prefix = f"{_PROCESS_PREFIX}.{next(_CLIENT_IDS)}."
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        #: Bytes of the last reply frame, and of one event's share of the last event frame.
        self.last_reply_bytes = 0
        self.last_event_frame_bytes = 0

    @classmethod
    async def connect(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        *,
        on_events: EventsCallback | None = None,
    ) -> Client:
        ws = await session.ws_connect(
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
            max_msg_size=64 * 1024 * 1024,
        )
        client = cls(ws, on_events)
        first = await ws.receive(timeout=REPLY_TIMEOUT_S)
        if first.type != aiohttp.WSMsgType.BINARY:
            await ws.close()
            raise ConnectionError(f"expected a welcome, got {first.type!r} {first.data!r}")
        message = envelope_pb2.ServerMessage.FromString(first.data)
        if message.WhichOneof("kind") != "welcome":
            await ws.close()
            raise ConnectionError(f"expected a welcome, got {message.WhichOneof('kind')}")
        client.welcome = message.welcome
        client._reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.BINARY:
                    continue
                received_at = time.time()
                data = frame.data
                message = envelope_pb2.ServerMessage.FromString(data)
                kind = message.WhichOneof("kind")
                if kind == "reply":
                    self.last_reply_bytes = len(data)
                    self._resolve(message.reply.request_id, message)
                elif kind == "error":
                    self._resolve(message.error.request_id, message)
                elif kind == "event":
                    self.last_event_frame_bytes = len(data)
                    if self.on_events is not None:
                        self.on_events((message.event,), received_at)
                elif kind == "events":
                    events = message.events.events
                    self.last_event_frame_bytes = len(data) // max(1, len(events))
                    if self.on_events is not None:
                        self.on_events(events, received_at)
        finally:
            error = ConnectionError(f"connection closed ({ws.close_code})")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()

    def _resolve(self, request_id: str, message: envelope_pb2.ServerMessage) -> None:
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(message)

    def envelope(self, name: str, command: Message) -> tuple[str, bytes]:
        request_id = self._prefix + str(next(self._ids))
        message = envelope_pb2.ClientMessage(request_id=request_id)
        getattr(message, name).CopyFrom(command)
        return request_id, message.SerializeToString()

    async def request(self, name: str, command: Message) -> Any:
        """Send one command; return its Reply, or raise RequestFailed with the error."""
        request_id, frame = self.envelope(name, command)
        return await self.send_frame(request_id, frame)

    async def send_frame(self, request_id: str, frame: bytes) -> Any:
        future: asyncio.Future[envelope_pb2.ServerMessage] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[request_id] = future
        await self.ws.send_bytes(frame)
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            message = await future
        if message.WhichOneof("kind") == "error":
            raise RequestFailed(message.error)
        return message.reply

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=5)


def session(limit: int = 0) -> aiohttp.ClientSession:
    """A client session without a connection cap (one per load process)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, force_close=False))


async def connect_many(
    http: aiohttp.ClientSession,
    url: str,
    tokens: Sequence[str],
    *,
    on_events: Callable[[int], EventsCallback | None] | None = None,
    concurrency: int = 100,
) -> list[Client]:
    """One client per token, ``concurrency`` handshakes at a time, in token order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, token: str) -> Client:
        async with gate:
            callback = on_events(index) if on_events is not None else None
            return await Client.connect(http, url, token, on_events=callback)

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens))))


async def close_all(clients: Sequence[Client]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
