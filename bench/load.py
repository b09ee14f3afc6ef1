"""What the load processes run against pm (each function is one process's whole job).

Every function takes its parameters as a dict and a :class:`Control`; it
connects, signals ``ready``, waits for ``go`` (whose payload is the wall-clock
window ``{"measure_from": t, "until": t}`` shared by all processes of the
phase), drives load, and returns plain data. Latencies of requests are
measured with ``perf_counter`` around the round trip; latencies of events are
receipt time minus the event's ``occurred_at`` (the commit's unit-of-work
time), both on this machine's wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from array import array
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from bench.client import Client, EventsCallback, close_all, connect_many, session
from bench.fixtures import create_item
from bench.workers import Control
from pm_proto.v1 import commands_pb2, entities_pb2, events_pb2

STATUSES = (
    entities_pb2.WORK_ITEM_STATUS_BACKLOG,
    entities_pb2.WORK_ITEM_STATUS_TODO,
    entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS,
    entities_pb2.WORK_ITEM_STATUS_IN_REVIEW,
    entities_pb2.WORK_ITEM_STATUS_DONE,
)


async def _sleep_until(wall: float) -> None:
    delay = wall - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


# -- 1: one client, sequential creates ------------------------------------------


async def sequential_creates(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    async with session() as http:
        client = await Client.connect(http, params["url"], params["token"])
        project_id = params["project_id"]
        latencies = array("d")
        request_bytes = 0
        for n in range(params["warmup"] + params["requests"]):
            request_id, frame = client.envelope(
                "create_work_item", create_item(project_id, f"Sequential item {n}")
            )
            request_bytes = len(frame)
            started = time.perf_counter()
            await client.send_frame(request_id, frame)
            if n >= params["warmup"]:
                latencies.append(time.perf_counter() - started)
        await client.close()
    return {
        "latencies": latencies.tobytes(),
        "request_bytes": request_bytes,
        "reply_bytes": client.last_reply_bytes,
    }


# -- 2 and 4: closed-loop creates -------------------------------------------------


#: One create, whatever the door: awaits its answer.
Create = Callable[[str], Awaitable[object]]


async def closed_loop_creates(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Each client sends its next create as soon as its previous reply came."""
    async with session() as http:
        clients = await connect_many(http, params["url"], params["tokens"])
        ctl.signal("ready", len(clients))
        window = await ctl.wait("go")
        project_id = params["project_id"]

        def create(client: Client) -> Create:
            async def one(title: str) -> object:
                return await client.request("create_work_item", create_item(project_id, title))

            return one

        latencies, total = await closed_loops([create(c) for c in clients], window)
        await close_all(clients)
    return {
        "latencies": latencies.tobytes(),
        "total": total,
        "window": window["until"] - window["measure_from"],
    }


async def closed_loops(
    creates: Sequence[Create], window: dict[str, float]
) -> tuple[array[float], int]:
    """Run each of ``creates`` in a loop of its own from the window's start to its end, the
    next create sent when the previous one was answered: the round trips of the creates
    started in the measured part of the window, and how many were answered in all."""
    measure_from, until = window["measure_from"], window["until"]
    latencies = array("d")
    total = 0

    async def loop(create: Create, index: int) -> None:
        nonlocal total
        await _sleep_until(window["start"])
        for n in itertools.count():
            started_wall = time.time()
            if started_wall >= until:
                return
            started = time.perf_counter()
            await create(f"Client {index} item {n}")
            total += 1
            if started_wall >= measure_from:
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(loop(c, i) for i, c in enumerate(creates)))
    return latencies, total


async def tenant_round_robin(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """``concurrency`` loops take tenants in turn (each its own database) and create one item."""
    async with session() as http:
        clients = await connect_many(http, params["url"], params["tokens"], concurrency=50)
        ctl.signal("ready", len(clients))
        window = await ctl.wait("go")
        project_id = params["project_id"]
        measure_from, until = window["measure_from"], window["until"]
        latencies = array("d")
        failures: dict[str, int] = {}
        total = 0
        turn = itertools.cycle(range(len(clients)))

        async def loop() -> None:
            nonlocal total
            await _sleep_until(window["start"])
            while (started_wall := time.time()) < until:
                index = next(turn)
                started = time.perf_counter()
                try:
                    await clients[index].request(
                        "create_work_item", create_item(project_id, f"Tenant item {total}")
                    )
                except Exception as exc:
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    continue
                total += 1
                if started_wall >= measure_from:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(loop() for _ in range(params["concurrency"])))
        await close_all(clients)
    return {
        "latencies": latencies.tobytes(),
        "total": total,
        "window": until - measure_from,
        "failures": failures,
    }


# -- 3: one writer with requests in flight ------------------------------------------


#: Creates of the paced writer waiting for their replies at most.
PACED_MAX_IN_FLIGHT: Final = 256


async def pipelined_writer(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """One connection keeps ``window`` creates in flight until the end of the window,
    or, given a ``rate``, starts that many creates per second (each in its own task)."""
    async with session() as http:
        client = await Client.connect(http, params["url"], params["token"])
        ctl.signal("ready", 1)
        window = await ctl.wait("go")
        project_id = params["project_id"]
        until = window["until"]
        total = 0
        counter = itertools.count()

        async def create() -> None:
            nonlocal total
            await client.request(
                "create_work_item", create_item(project_id, f"Fan-out {next(counter)}")
            )
            total += 1

        async def lane() -> None:
            await _sleep_until(window["start"])
            while time.time() < until:
                await create()

        async def paced(rate: float) -> int:
            """Creates started on schedule; returns how many failed. At most
            ``PACED_MAX_IN_FLIGHT`` wait for replies (a server that falls behind is
            then no longer offered the rate, and the result says so)."""
            tasks: list[asyncio.Task[None]] = []
            gate = asyncio.Semaphore(PACED_MAX_IN_FLIGHT)

            async def gated() -> None:
                try:
                    await create()
                finally:
                    gate.release()

            due = window["start"]
            while due < until:
                await _sleep_until(due)
                await gate.acquire()
                tasks.append(asyncio.create_task(gated()))
                due += 1 / rate
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            return sum(isinstance(outcome, BaseException) for outcome in outcomes)

        failed = 0
        if params.get("rate"):
            failed = await paced(params["rate"])
        else:
            await asyncio.gather(*(lane() for _ in range(params["window"])))
        await client.close()
    return {"total": total, "failed": failed}


# -- subscribers (2 and 3) ------------------------------------------------------------


class _Tally:
    """Events one process's subscribers received, and their latencies inside the window."""

    def __init__(self, clients: int) -> None:
        self.measure_from = 0.0
        self.until = float("inf")
        self.received = 0
        self.in_window = 0
        self.last_receipt = 0.0
        self.latencies = array("d")
        self.per_client = [0] * clients
        #: Set once every client has received ``expect`` events.
        self.expect = float("inf")
        self.complete = asyncio.Event()
        self.event_frame_bytes = 0

    def callback(self, index: int) -> EventsCallback:
        def on_events(events: Sequence[events_pb2.Event], received_at: float) -> None:
            before = self.per_client[index]
            self.per_client[index] = before + len(events)
            if before < self.expect <= before + len(events):
                self.check()
            self.received += len(events)
            for event in events:
                stamp = event.occurred_at
                occurred = stamp.seconds + stamp.nanos * 1e-9
                if self.measure_from <= occurred < self.until:
                    self.in_window += 1
                    self.latencies.append(received_at - occurred)
                    self.last_receipt = received_at

        return on_events

    def wait_for(self, expect: int) -> asyncio.Event:
        self.expect = expect
        self.check()
        return self.complete

    def check(self) -> None:
        if min(self.per_client, default=self.expect) >= self.expect:
            self.complete.set()


async def subscribers(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Subscribe every connection to the project; count events until each has ``expect``."""
    tally = _Tally(len(params["tokens"]))
    async with session() as http:
        clients = await connect_many(
            http, params["url"], params["tokens"], on_events=tally.callback, concurrency=100
        )
        subscribe = commands_pb2.Subscribe(project_ids=[params["project_id"]])
        gate = asyncio.Semaphore(100)

        async def one(client: Client) -> None:
            async with gate:
                await client.request("subscribe", subscribe)

        await asyncio.gather(*(one(c) for c in clients))
        ctl.signal("ready", len(clients))
        window = await ctl.wait("go")
        tally.measure_from, tally.until = window["measure_from"], window["until"]
        expect = await ctl.wait("expect")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(params.get("drain_timeout", 60)):
                await tally.wait_for(expect).wait()
        frame_bytes = max((c.last_event_frame_bytes for c in clients), default=0)
        await close_all(clients)
    return {
        "subscribers": len(clients),
        "received": tally.received,
        "missing": sum(max(0, expect - n) for n in tally.per_client),
        "in_window": tally.in_window,
        "last_receipt": tally.last_receipt,
        "latencies": tally.latencies.tobytes(),
        "event_frame_bytes": frame_bytes,
    }


# -- 5: idle connections and open tenants -----------------------------------------------


async def idle_connections(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Open one connection per token, hold them idle until ``stop``."""
    async with session() as http:
        started = time.perf_counter()
        clients = await connect_many(http, params["url"], params["tokens"], concurrency=100)
        ctl.signal("ready", {"connected": len(clients), "seconds": time.perf_counter() - started})
        await ctl.wait("stop")
        open_at_end = sum(1 for c in clients if not c.ws.closed)
        await close_all(clients)
    return {"connected": len(clients), "open_at_end": open_at_end}


async def touch_tenants(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Connect to each tenant once, read once (opening its writer and a reader), disconnect."""
    gate = asyncio.Semaphore(params.get("concurrency", 20))
    async with session() as http:

        async def one(token: str) -> None:
            async with gate:
                client = await Client.connect(http, params["url"], token)
                await client.request("list_projects", commands_pb2.ListProjects())
                await client.close()

        await asyncio.gather(*(one(t) for t in params["tokens"]))
    return {"tenants": len(params["tokens"])}


# -- 6: reads as data grows ------------------------------------------------------------------


async def read_latency(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Sequential get-by-key of random items, then list-by-status of random statuses.

    Each stops after ``gets``/``lists`` requests or ``max_seconds``, whichever comes first.
    """
    rng = random.Random(params.get("seed", 6))
    key, items, limit = params["key"], params["items"], params["limit"]

    def get() -> tuple[str, commands_pb2.GetWorkItem]:
        display_key = f"{key}-{rng.randint(1, items)}"
        return "get_work_item", commands_pb2.GetWorkItem(display_key=display_key)

    def listing() -> tuple[str, commands_pb2.ListWorkItems]:
        status = rng.choice(STATUSES)
        command = commands_pb2.ListWorkItems(
            project_id=params["project_id"], statuses=[status], limit=limit
        )
        return "list_work_items", command

    async with session() as http:
        client = await Client.connect(http, params["url"], params["token"])
        for _ in range(params["warmup"]):
            await client.request(*get())
            await client.request(*listing())
        gets = array("d")
        deadline = time.perf_counter() + params["max_seconds"]
        for _ in range(params["gets"]):
            started = time.perf_counter()
            reply = await client.request(*get())
            gets.append(time.perf_counter() - started)
            if started > deadline:
                break
        if not reply.work_item.item.display_key.startswith(key):
            raise RuntimeError(f"get-by-key returned {reply}")
        lists = array("d")
        returned = 0
        deadline = time.perf_counter() + params["max_seconds"]
        for _ in range(params["lists"]):
            started = time.perf_counter()
            reply = await client.request(*listing())
            lists.append(time.perf_counter() - started)
            returned += len(reply.work_items.items)
            if started > deadline:
                break
        await client.close()
    return {
        "gets": gets.tobytes(),
        "lists": lists.tobytes(),
        "items_per_list": returned / max(1, len(lists)),
    }


# -- 10: search ---------------------------------------------------------------------


async def search_latency(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Sequential ``search`` commands (20 hits a page), after ``warmup`` of them."""
    queries: list[str] = params["queries"]
    async with session() as http:
        client = await Client.connect(http, params["url"], params["token"])
        for text in queries[: params["warmup"]]:
            await client.request("search", commands_pb2.Search(query=text))
        latencies = array("d")
        hits = 0
        for text in queries:
            started = time.perf_counter()
            reply = await client.request("search", commands_pb2.Search(query=text))
            latencies.append(time.perf_counter() - started)
            hits += len(reply.search_results.hits)
        await client.close()
    if hits == 0:
        raise RuntimeError("no search found anything: the index is empty")
    return {"latencies": latencies.tobytes(), "hits_per_search": hits / max(1, len(queries))}
