"""The connection acts on its session's slow-consumer decisions, for a client that never reads.

No writer task runs, so nothing leaves the queue: exactly the state of a
client that stopped reading. The bounds themselves are pinned by the session's
unit tests (test_session.py); these check that an overflow of events, replies
or held events closes the socket with 4008. The functional slow-consumer tests
drive the same through a real server.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web

from pm_auth.tokens import Principal
from pm_server.connection import Connection
from pm_server.session import CLOSE_SLOW_CONSUMER, Subscription

KIB = 1024


class StuckSocket:
    """Stands in for the WebSocket: nothing is ever sent; close is recorded."""

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed_with = code
        return True


def stuck_connection(*, max_events: int = 1_000, max_bytes: int = 64 * KIB) -> Connection:
    principal = Principal(
        tenant_id="acme",
        user_id="alice",
        display_name="Alice",
        email=None,
        is_tenant_admin=False,
        expires_at=datetime(2100, 1, 1, tzinfo=UTC),
    )
    return Connection(
        cast(web.WebSocketResponse, cast(Any, StuckSocket())),
        principal,
        "c1",
        max_queued_events=max_events,
        max_queued_event_bytes=max_bytes,
    )


def live(connection: Connection, project_id: str = "p") -> Subscription:
    subscription = connection.session.subscribe(project_id)
    assert subscription is not None
    connection.go_live(subscription)
    return subscription


async def closed_code(connection: Connection) -> int | None:
    """The close code sent, once the close task (if any) has had its turns."""
    socket = cast(StuckSocket, connection.ws)
    for _ in range(20):
        if socket.closed_with is not None:
            break
        await asyncio.sleep(0)
    return socket.closed_with


async def test_an_event_past_the_bounds_closes_with_4008() -> None:
    connection = stuck_connection(max_bytes=64 * KIB)
    live(connection)
    connection.deliver("p", 1, b"x" * (80 * KIB))  # one frame always fits

    assert not connection.slow_consumer
    assert await closed_code(connection) is None
    connection.deliver("p", 2, b"y")
    assert connection.slow_consumer
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_replies_past_the_byte_bound_close_with_4008() -> None:
    connection = stuck_connection(max_events=10_000, max_bytes=64 * KIB)
    for _ in range(4):
        connection.send(b"x" * (16 * KIB))  # a client that asks for big lists, never reads
    assert await closed_code(connection) is None

    connection.send(b"x")
    assert connection.slow_consumer
    assert connection.session.queued_bytes == 0
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_events_held_past_the_bounds_close_with_4008_and_release_a_waiting_replay() -> None:
    connection = stuck_connection(max_events=10, max_bytes=64 * KIB)
    assert connection.session.subscribe("p") is not None  # replaying: live events are held
    connection.send(b"reply")
    assert not connection._drained.is_set()  # a replay would wait here for the reader
    for seq in range(1, 11):
        connection.deliver("p", seq, b"e")
    assert not connection.slow_consumer

    connection.deliver("p", 11, b"e")
    assert connection.slow_consumer
    await asyncio.wait_for(connection.drained(), timeout=2)
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_an_overflow_during_a_graceful_close_drops_the_queue_and_keeps_the_code() -> None:
    connection = stuck_connection(max_events=10)
    connection.tasks.add(asyncio.ensure_future(asyncio.sleep(0.05)))  # a command in flight
    connection.begin_close(1001, "server shutting down", grace=1.0)
    for _ in range(11):
        connection.send(b"reply")
    assert connection.slow_consumer
    assert connection.session.queued_frames == 0
    await asyncio.wait_for(connection.drained(), timeout=2)
    for _ in range(100):
        if cast(StuckSocket, connection.ws).closed_with is not None:
            break
        await asyncio.sleep(0.01)
    assert cast(StuckSocket, connection.ws).closed_with == 1001
