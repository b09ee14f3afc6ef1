"""A small protobuf WebSocket client for functional tests (not the product client)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterable
from typing import Any

import aiohttp
from google.protobuf.message import Message

from pm_proto.v1 import envelope_pb2, events_pb2


class ServerError(Exception):
    def __init__(self, error: envelope_pb2.Error) -> None:
        super().__init__(f"{envelope_pb2.ErrorCode.Name(error.code)}: {error.message}")
        self.error = error

    @property
    def code(self) -> str:
        return envelope_pb2.ErrorCode.Name(self.error.code)


class WsClient:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self.session = session
        self.ws = ws
        self.welcome = envelope_pb2.Welcome()
        self.events: asyncio.Queue[events_pb2.Event] = asyncio.Queue()
        self.frames: list[envelope_pb2.ServerMessage] = []
        self._pending: dict[str, asyncio.Future[envelope_pb2.ServerMessage]] = {}
        self._ids = itertools.count(1)
        # Request ids are the idempotency keys of the user, whatever the socket: two sockets
        # of one user counting from 1 alike would get each other's stored replies.
        self._socket_tag = secrets.token_hex(4)
        self._reader: asyncio.Task[None] | None = None
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, url: str, token: str, **kwargs: Any) -> WsClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        except BaseException:
            await session.close()
            raise
        client = cls(session, ws)
        first = await ws.receive_bytes(timeout=5)
        message = envelope_pb2.ServerMessage.FromString(first)
        assert message.WhichOneof("kind") == "welcome", message
        client.welcome = message.welcome
        client._reader = asyncio.ensure_future(client._read())
        return client

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.BINARY:
                continue
            message = envelope_pb2.ServerMessage.FromString(frame.data)
            self.frames.append(message)
            kind = message.WhichOneof("kind")
            if kind == "reply":
                self._resolve(message.reply.request_id, message)
            elif kind == "error":
                self._resolve(message.error.request_id, message)
            elif kind == "event":
                self.events.put_nowait(message.event)
            elif kind == "events":
                for event in message.events.events:
                    self.events.put_nowait(event)
        self.close_code = self.ws.close_code
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"closed with {self.close_code}"))

    def _resolve(self, request_id: str, message: envelope_pb2.ServerMessage) -> None:
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(message)

    def new_request_id(self) -> str:
        return f"r{next(self._ids)}-{self._socket_tag}"

    async def send_raw(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def call(
        self, name: str, command: Message, *, request_id: str | None = None, timeout: float = 10
    ) -> envelope_pb2.ServerMessage:
        """Send one command; return the reply or error message."""
        request_id = request_id or self.new_request_id()
        envelope = envelope_pb2.ClientMessage(request_id=request_id)
        getattr(envelope, name).CopyFrom(command)
        future = self._pending.get(request_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[request_id] = future
        await self.ws.send_bytes(envelope.SerializeToString())
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def request(self, name: str, command: Message, **kwargs: Any) -> envelope_pb2.Reply:
        """Send one command; return its reply or raise ServerError."""
        message = await self.call(name, command, **kwargs)
        if message.WhichOneof("kind") == "error":
            raise ServerError(message.error)
        return message.reply

    async def error(self, name: str, command: Message, **kwargs: Any) -> envelope_pb2.Error:
        """Send one command that must fail; return the error."""
        message = await self.call(name, command, **kwargs)
        assert message.WhichOneof("kind") == "error", f"expected an error, got {message}"
        return message.error

    async def closed(self, timeout: float = 10) -> int:
        """The close code, once the connection is closed (by either side)."""
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        assert self.close_code is not None
        return self.close_code

    async def next_event(self, timeout: float = 5) -> events_pb2.Event:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def events_until(self, seq: int, timeout: float = 10) -> list[events_pb2.Event]:
        """Events received until one with ``seq`` (inclusive) arrives."""
        got: list[events_pb2.Event] = []
        while not got or got[-1].seq < seq:
            got.append(await self.next_event(timeout))
        return got

    def drain_events(self) -> list[events_pb2.Event]:
        got = []
        while not self.events.empty():
            got.append(self.events.get_nowait())
        return got

    async def no_event(self, within: float = 0.3) -> None:
        try:
            event = await asyncio.wait_for(self.events.get(), within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected event {event}")

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=5)
        await self.session.close()


def seqs(events: Iterable[events_pb2.Event]) -> list[int]:
    return [event.seq for event in events]
