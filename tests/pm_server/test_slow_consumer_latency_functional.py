"""A slow consumer (never reads) does not delay delivery to 100 other subscribers.

One real server, one writer and 100 subscribers of one project, each on its own
socket. The writer makes paced updates (the next one once every subscriber has
the previous event); each subscriber stamps every event as its frame arrives.
The latency of one delivery is from just before the writer sends the update to
that stamp.

Phase A measures it without a slow consumer. Phase B adds a socket that
subscribes and never reads again: updates are made until its kernel buffers are
full and the server's writer for it is stuck (events pile up in its queue),
then the measured updates run while it is stuck, and its queue overflows
``max_queued_events`` part-way through them, so the close (4008) happens inside
the measured window too.

Isolation is shown without a clock: each of those updates reaches all 100
subscribers while the slow consumer's own events still wait in its queue. The
latencies are printed (``pytest -s``) for reading, never asserted: on a loaded
machine a stall says nothing about the server.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server.connection import Connection
from pm_server.session import CLOSE_SLOW_CONSUMER
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.wsclient import WsClient

SUBSCRIBERS = 100
#: Measured updates per phase.
UPDATES = 60
#: The slow consumer is closed once this many events wait in its queue: part-way
#: through phase B's measured updates (it is stuck from their start).
MAX_QUEUED = 40
#: Updates made to fill the slow consumer's socket buffers, at most.
MAX_FILL = 1_500
#: Each event carries the project (with this description) and the change
#: (old and new description): ~27 KB, so the slow consumer's buffers fill fast.
PAD = "x" * 9_000


@dataclass
class Subscriber:
    ws: aiohttp.ClientWebSocketResponse
    #: (seq, time.perf_counter() when its frame arrived), in arrival order.
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None


class Arrivals:
    """Counts, per ordinal (the k-th event a subscriber got), how many subscribers got it."""

    def __init__(self, subscribers: int) -> None:
        self._subscribers = subscribers
        self._counts: Counter[int] = Counter()
        self._complete: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)

    def arrived(self, ordinal: int) -> None:
        self._counts[ordinal] += 1
        if self._counts[ordinal] == self._subscribers:
            self._complete[ordinal].set()

    async def wait(self, ordinal: int, timeout: float = 10) -> None:
        try:
            await asyncio.wait_for(self._complete[ordinal].wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"only {self._counts[ordinal]} of {self._subscribers} subscribers "
                f"got event #{ordinal} within {timeout} s"
            ) from None


def _subscribe_frame(project_id: str) -> bytes:
    subscribe = commands_pb2.Subscribe(project_ids=[project_id])
    return envelope_pb2.ClientMessage(request_id="s", subscribe=subscribe).SerializeToString()


async def _connect_and_subscribe(
    session: aiohttp.ClientSession, server: Server, project_id: str
) -> tuple[aiohttp.ClientWebSocketResponse, envelope_pb2.Welcome]:
    ws = await session.ws_connect(
        server.ws_url,
        headers={"Authorization": f"Bearer {server.token('acme', 'alice')}"},
        max_msg_size=0,
    )
    welcome = envelope_pb2.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
    assert welcome.WhichOneof("kind") == "welcome", welcome
    await ws.send_bytes(_subscribe_frame(project_id))
    reply = envelope_pb2.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
    assert reply.WhichOneof("kind") == "reply", reply
    assert list(reply.reply.subscribed.project_ids) == [project_id], reply
    return ws, welcome.welcome


async def _read(subscriber: Subscriber, arrivals: Arrivals) -> None:
    async for frame in subscriber.ws:
        now = time.perf_counter()
        if frame.type != aiohttp.WSMsgType.BINARY:
            continue
        message = envelope_pb2.ServerMessage.FromString(frame.data)
        kind = message.WhichOneof("kind")
        if kind == "event":
            events = [message.event]
        elif kind == "events":
            events = list(message.events.events)
        else:
            continue
        for event in events:
            subscriber.arrivals.append((event.seq, now))
            arrivals.arrived(len(subscriber.arrivals))


async def _update(
    writer: WsClient, project_id: str, arrivals: Arrivals, ordinal: int, tag: str
) -> float:
    """One update; returns when it was sent, once all subscribers have its event."""
    sent_at = time.perf_counter()
    await writer.request(
        "update_project",
        commands_pb2.UpdateProject(project_id=project_id, description=f"{tag}-{ordinal}{PAD}"),
    )
    await arrivals.wait(ordinal)
    return sent_at


def _latencies(subscribers: list[Subscriber], sent_at: dict[int, float]) -> list[float]:
    return [
        subscriber.arrivals[ordinal - 1][1] - sent
        for ordinal, sent in sent_at.items()
        for subscriber in subscribers
    ]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _figures(values: list[float]) -> str:
    return (
        f"p50={statistics.median(values) * 1000:.1f} ms "
        f"p99={_percentile(values, 0.99) * 1000:.1f} ms "
        f"max={max(values) * 1000:.1f} ms (n={len(values)})"
    )


def _server_connection(server: Server, connection_id: str) -> Connection:
    [connection] = [c for c in server.state.connections if c.id == connection_id]
    return connection


def _backlog(connection: Connection) -> int:
    """Frames waiting in the connection's queue: > 0 once every subscriber has the
    latest event means its writer is stuck on a full socket."""
    return connection.session.queued_frames


async def test_slow_consumer_does_not_delay_delivery_to_100_subscribers(tmp_path: Path) -> None:
    started = time.perf_counter()
    server, runner = await start_server(
        tmp_path / "data",
        max_queued_events=MAX_QUEUED,
        max_connections_per_user=SUBSCRIBERS + 10,
        # The slow consumer never answers pings either; keep the heartbeat out of it.
        heartbeat_seconds=60,
    )
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    slow_session = aiohttp.ClientSession()
    subscribers: list[Subscriber] = []
    try:
        writer = await server.client(user="alice")
        project = await create_project(writer, "SLOW")
        arrivals = Arrivals(SUBSCRIBERS)
        for _ in range(SUBSCRIBERS):
            ws, _welcome = await _connect_and_subscribe(session, server, project.id)
            subscriber = Subscriber(ws)
            subscriber.reader = asyncio.ensure_future(_read(subscriber, arrivals))
            subscribers.append(subscriber)
        ordinal = 0

        # Phase A: no slow consumer.
        baseline: dict[int, float] = {}
        for _ in range(UPDATES):
            ordinal += 1
            baseline[ordinal] = await _update(writer, project.id, arrivals, ordinal, "a")

        # Phase B: a socket that subscribes and never reads again.
        slow_ws, slow_welcome = await _connect_and_subscribe(slow_session, server, project.id)
        slow = _server_connection(server, slow_welcome.connection_id)
        filling: dict[int, float] = {}
        while _backlog(slow) == 0:
            assert not slow.closing, "the slow consumer was closed before it got stuck"
            assert len(filling) < MAX_FILL, "the slow consumer's socket buffers never filled"
            ordinal += 1
            filling[ordinal] = await _update(writer, project.id, arrivals, ordinal, "fill")
        assert not slow.closing
        stuck_at = _backlog(slow)
        with_slow: dict[int, float] = {}
        closed_after: int | None = None
        for n in range(1, UPDATES + 1):
            ordinal += 1
            with_slow[ordinal] = await _update(writer, project.id, arrivals, ordinal, "b")
            if closed_after is None and slow.closing:
                closed_after = n
            if closed_after is None:  # all 100 have it; the slow one still has a backlog
                assert _backlog(slow) > 0, f"update {n}: the slow consumer got unstuck"
        # It was stuck for a good part of the measured updates, then closed among them.
        assert closed_after is not None, "the slow consumer was not closed"
        assert closed_after >= UPDATES // 3, closed_after
        for _ in range(100):
            if server.state.metrics.slow_consumer_closes._value.get() >= 1:
                break
            await asyncio.sleep(0.05)
        assert server.state.metrics.slow_consumer_closes._value.get() == 1
        assert slow.slow_consumer
        assert slow.close_code == CLOSE_SLOW_CONSUMER

        # Every subscriber got every event, in order, with contiguous seqs.
        first_seq = subscribers[0].arrivals[0][0]
        expected = list(range(first_seq, first_seq + ordinal))
        for index, subscriber in enumerate(subscribers):
            assert [seq for seq, _ in subscriber.arrivals] == expected, f"subscriber {index}"

        a = _latencies(subscribers, baseline)
        b = _latencies(subscribers, with_slow)
        f = _latencies(subscribers, filling)
        duration = time.perf_counter() - started
        report = (
            f"{SUBSCRIBERS} subscribers, ~27 KB events. Without slow consumer: {_figures(a)}. "
            f"With a stuck slow consumer (closed after {closed_after} of {UPDATES}): "
            f"{_figures(b)}. While its buffers filled ({len(filling)} updates, "
            f"then backlog {stuck_at}): {_figures(f)}. Test so far {duration:.1f} s."
        )
        print(f"\n{report}")
        await slow_ws.close()
    finally:
        for subscriber in subscribers:
            await subscriber.ws.close()
            if subscriber.reader is not None:
                await asyncio.wait({subscriber.reader}, timeout=5)
        await session.close()
        await slow_session.close()
        for client in server.clients:
            await client.close()
        await runner.cleanup()
