"""The outbound queue's bounds, on a connection whose client never reads.

No writer task runs, so nothing leaves the queue: exactly the state of a
client that stopped reading. The functional slow-consumer tests drive the same
bounds through a real server; these pin the edges (one oversized event, events
held during a replay).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web

from pm_auth.tokens import Principal
from pm_server.connection import CLOSE_SLOW_CONSUMER, Connection, Subscription

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
    subscription = Subscription(project_id, replaying=False)
    connection.subscriptions[project_id] = subscription
    return subscription


async def closed_code(connection: Connection) -> int | None:
    """The close code sent, once the close task (if any) has had its turns."""
    socket = cast(StuckSocket, connection.ws)
    for _ in range(20):
        if socket.closed_with is not None:
            break
        await asyncio.sleep(0)
    return socket.closed_with


async def test_one_event_larger_than_the_byte_bound_is_still_queued() -> None:
    connection = stuck_connection(max_bytes=64 * KIB)
    live(connection)
    connection.deliver("p", 1, b"x" * (80 * KIB))

    assert not connection.slow_consumer
    assert await closed_code(connection) is None
    # A second event on top of it is past the bound: the reader is slow.
    connection.deliver("p", 2, b"y")
    assert connection.slow_consumer
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_queued_event_bytes_up_to_the_bound_fit_and_one_more_closes() -> None:
    connection = stuck_connection(max_bytes=64 * KIB)
    live(connection)
    for seq in range(1, 5):
        connection.deliver("p", seq, b"x" * (16 * KIB))  # exactly 64 KiB in all
    assert not connection.slow_consumer

    connection.deliver("p", 5, b"x")
    assert connection.slow_consumer
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_events_held_during_a_replay_are_bounded_by_bytes() -> None:
    connection = stuck_connection(max_events=1_000, max_bytes=64 * KIB)
    connection.subscriptions["p"] = Subscription("p")  # replaying: live events are held
    for seq in range(1, 5):
        connection.deliver("p", seq, b"x" * (16 * KIB))
    assert not connection.slow_consumer

    connection.deliver("p", 5, b"x" * (16 * KIB))
    assert connection.slow_consumer
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_events_held_during_a_replay_are_bounded_by_count() -> None:
    connection = stuck_connection(max_events=10, max_bytes=64 * KIB)
    connection.subscriptions["p"] = Subscription("p")
    for seq in range(1, 11):
        connection.deliver("p", seq, b"e")
    assert not connection.slow_consumer

    connection.deliver("p", 11, b"e")
    assert connection.slow_consumer


async def test_released_held_events_count_against_the_queue_once() -> None:
    connection = stuck_connection(max_bytes=64 * KIB)
    subscription = Subscription("p")
    connection.subscriptions["p"] = subscription
    for seq in range(1, 4):
        connection.deliver("p", seq, b"x" * (16 * KIB))
    connection.finish_replay(subscription)
    assert (subscription.held, subscription.held_bytes) == ([], 0)

    connection.deliver("p", 4, b"x" * (16 * KIB))  # 64 KiB queued: still fits
    assert not connection.slow_consumer
    connection.deliver("p", 5, b"x")
    assert connection.slow_consumer


async def test_an_overflow_while_releasing_held_events_queues_none_after_it() -> None:
    connection = stuck_connection(max_events=3)
    live(connection)
    for seq in range(1, 4):
        connection.deliver("p", seq, b"e")  # the queue is full
    replaying = Subscription("q")
    connection.subscriptions["q"] = replaying
    for seq in (10, 11, 12):
        connection.deliver("q", seq, b"e")

    connection.finish_replay(replaying)  # overflows on 10

    assert connection.slow_consumer
    # Nothing after the overflow is queued (sending 11 and 12 would skip 1-3 and 10).
    assert not connection._out
    assert await closed_code(connection) == CLOSE_SLOW_CONSUMER


async def test_held_events_are_bounded_across_all_replaying_subscriptions() -> None:
    connection = stuck_connection(max_events=1_000, max_bytes=64 * KIB)
    for project_id in ("p", "q", "r", "s"):
        connection.subscriptions[project_id] = Subscription(project_id)
        connection.deliver(project_id, 1, b"x" * (16 * KIB))  # 64 KiB held in all
    assert not connection.slow_consumer

    connection.subscriptions["t"] = Subscription("t")
    connection.deliver("t", 1, b"x")
    assert connection.slow_consumer
