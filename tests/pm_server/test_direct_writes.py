"""Events of an idle connection are written straight to its transport at the end of
the tick, in order with its replies; a busy transport leaves them to the writer task."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pytest
from aiohttp import web

from pm_auth.tokens import Principal
from pm_proto.frames import event_batch_frame, event_frame
from pm_server.connection import CLOSE_INTERNAL, Connection
from pm_server.fanout import Flusher
from pm_server.wire import DIRECT_WRITE_LIMIT, ws_binary_frame


class Transport:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.frames.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered


class Socket:
    """The WebSocket's own sends (the writer task's) go to the same transport."""

    closed = False

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.sent_by_writer = 0

    async def send_bytes(self, data: bytes) -> None:
        self.sent_by_writer += 1
        self.transport.write(ws_binary_frame(data))

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed = True
        return True


def connection(transport: Transport, flusher: Flusher | None = None) -> tuple[Connection, Socket]:
    socket = Socket(transport)
    principal = Principal("acme", "alice", "Alice", None, False, datetime(2100, 1, 1, tzinfo=UTC))
    conn = Connection(
        cast(web.WebSocketResponse, cast(Any, socket)),
        principal,
        "c1",
        max_queued_events=1_000,
        max_queued_event_bytes=1 << 20,
        transport=cast(Any, transport),
        flusher=flusher or Flusher(),
    )
    subscription = conn.session.subscribe("p")
    assert subscription is not None
    conn.go_live(subscription)
    conn.start_writer()
    return conn, socket


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_events_of_one_tick_go_out_as_one_frame_without_the_writer() -> None:
    transport = Transport()
    conn, socket = connection(transport)
    await settle()  # the writer is idle
    one, two = b"\x08\x01", b"\x08\x02"
    conn.deliver("p", 1, one)
    conn.deliver("p", 2, two)
    await conn.drained()
    assert transport.frames == [ws_binary_frame(event_batch_frame([one, two]))]
    assert socket.sent_by_writer == 0
    await conn.finish()


@pytest.mark.parametrize("reply_first", [True, False], ids=["reply-first", "event-first"])
async def test_replies_and_events_go_out_in_the_order_they_were_queued(reply_first: bool) -> None:
    transport = Transport()
    conn, _ = connection(transport)
    await settle()
    event = b"\x08\x01"
    queued: list[Callable[[], None]] = [
        partial(conn.send, b"reply"),
        partial(conn.deliver, "p", 1, event),
    ]
    sent = [ws_binary_frame(b"reply"), ws_binary_frame(event_frame(event))]
    if not reply_first:
        queued.reverse()
        sent.reverse()
    for queue in queued:
        queue()
    await settle()
    await conn.drained()
    assert transport.frames == sent
    await conn.finish()


async def test_a_full_transport_leaves_events_to_the_writer_task() -> None:
    transport = Transport()
    transport.buffered = DIRECT_WRITE_LIMIT + 1
    conn, socket = connection(transport)
    await settle()
    event = b"\x08\x01"
    conn.deliver("p", 1, event)
    await settle()
    await conn.drained()
    assert transport.frames == [ws_binary_frame(event_frame(event))]
    assert socket.sent_by_writer == 1
    await conn.finish()


async def test_drained_is_false_while_an_event_waits_for_a_pending_flush() -> None:
    transport = Transport()
    conn, _ = connection(transport)
    await settle()
    seen: list[bool] = []

    def late_event() -> None:
        # The writer has already sent the reply and the first event and gone idle;
        # the flush asked for by the first event has not run yet.
        conn.deliver("p", 2, b"\x08\x02")
        seen.append(conn._drained.is_set())

    conn.send(b"reply")  # the writer wakes first
    asyncio.get_running_loop().call_soon(late_event)
    conn.deliver("p", 1, b"\x08\x01")  # asks for a flush, queued after late_event
    await settle()
    await conn.drained()
    assert seen == [False]
    assert transport.frames[-1] == ws_binary_frame(event_frame(b"\x08\x02"))
    await conn.finish()


class BrokenTransport(Transport):
    def write(self, data: bytes) -> None:
        raise RuntimeError("transport is broken")


async def test_a_failed_direct_write_closes_that_connection_and_spares_the_others() -> None:
    broken, healthy = BrokenTransport(), Transport()
    flusher = Flusher()
    first, first_socket = connection(broken, flusher)
    second, _ = connection(healthy, flusher)
    await settle()
    first.deliver("p", 1, b"\x08\x01")
    second.deliver("p", 1, b"\x08\x01")
    await settle()
    await asyncio.wait_for(second.drained(), timeout=2)
    assert healthy.frames == [ws_binary_frame(event_frame(b"\x08\x01"))]
    # Its event is lost, so the client must reconnect and resume: closed with 1011.
    assert first.close_code == CLOSE_INTERNAL
    await asyncio.wait_for(first.drained(), timeout=2)
    await first.finish()
    await second.finish()
    assert first_socket.closed
