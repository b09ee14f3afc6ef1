"""The contract of the direct-write adapter with the aiohttp in use (see pm_server/wire.py).

Each fact the adapter relies on is checked against aiohttp itself; the first
test fails on any aiohttp release other than the one verified, so an upgrade
re-runs these on purpose before the pin moves.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol

from pm_proto.frames import event_frame
from pm_proto.v1 import events_pb2
from pm_server import wire
from pm_server.connection import Connection
from tests.pm_server.conftest import Server

#: Payload sizes around every boundary of the frame header's length encoding.
SIZES = [0, 1, 124, 125, 126, 127, 128, 65_534, 65_535, 65_536, 65_537, 200_000]


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False


def aiohttp_writer(transport: Recorder, **kwargs: Any) -> tuple[WebSocketWriter, BaseProtocol]:
    protocol = BaseProtocol(asyncio.get_running_loop())
    protocol.transport = cast(Any, transport)  # connected (else a drain fails at once)
    # What a server's WebSocketResponse uses: no mask, no compression.
    return WebSocketWriter(protocol, cast(Any, transport), use_mask=False, **kwargs), protocol


def test_aiohttp_is_the_release_the_adapter_was_verified_against() -> None:
    release = ".".join(aiohttp.__version__.split(".")[:2])
    assert release == wire.AIOHTTP_VERIFIED, (
        f"aiohttp {aiohttp.__version__} is installed; the direct writes of pm_server/wire.py "
        f"were verified on {wire.AIOHTTP_VERIFIED}: re-check its facts, then move the pin"
    )


@pytest.mark.parametrize("size", SIZES)
async def test_ws_binary_frame_is_what_aiohttp_sends(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    transport = Recorder()
    writer, _ = aiohttp_writer(transport)
    await writer.send_frame(payload, WSMsgType.BINARY)
    ours = wire.ws_binary_frame(payload)
    header = len(ours) - size
    assert header == (2 if size < 126 else 4 if size < 65_536 else 10)
    assert ours[:header] == transport.data[:header]
    assert ours == transport.data


async def test_aiohttp_writes_an_uncompressed_frame_whole_before_it_awaits() -> None:
    # A direct write happens between two of the writer task's sends: it must never
    # land inside one of aiohttp's frames, so aiohttp may only wait once a frame is out.
    transport = Recorder()
    writer, protocol = aiohttp_writer(transport, limit=16)
    protocol.pause_writing()  # the socket is full: aiohttp waits for it to drain
    payload = b"x" * 100_000
    send = asyncio.ensure_future(writer.send_frame(payload, WSMsgType.BINARY))
    await asyncio.sleep(0)
    assert not send.done()  # waiting for the drain...
    assert transport.data == wire.ws_binary_frame(payload)  # ...with the frame already out
    protocol.resume_writing()
    await asyncio.wait_for(send, timeout=2)


def test_a_transport_without_the_methods_gets_no_direct_writer() -> None:
    assert wire.direct_writer(None) is None
    assert wire.direct_writer(object()) is None
    wire.abort(None)  # nothing to abort: no error


async def test_the_transport_of_a_real_connection_takes_direct_writes(server: Server) -> None:
    client = await server.client()
    [connection] = [c for c in server.state.connections if c.id == client.welcome.connection_id]
    transport = connection._transport
    writer = wire.direct_writer(transport)
    assert writer is not None
    assert callable(getattr(transport, "abort", None))
    assert connection._direct is not None  # the connection uses the fast path
    assert writer.writable()
    event = events_pb2.Event(seq=0, project_id="p").SerializeToString()
    await asyncio.wait_for(connection.drained(), timeout=2)  # nothing else in flight
    writer.write(wire.ws_binary_frame(event_frame(event)))
    received = await client.next_event()
    assert received.project_id == "p"
    assert isinstance(connection, Connection)
