"""Scenario 9: webhook delivery lag, from an event's commit to its receipt at the endpoint.

One ``pm serve`` (``PM_WEBHOOK_ALLOW_PRIVATE=true``), one endpoint for the tenant's
work-item events, and a receiver in a load process of its own (an aiohttp server on
127.0.0.1 answering 204, as a real receiver is another process). A writer process
starts ``s9_rate`` creates per second (500) on one connection, each on schedule
whatever the replies (:func:`bench.load.pipelined_writer`), through the warm-up and
the measured window. For each event committed in the measured window the receiver
notes its receipt time less the event's ``occurredAt`` (the commit's unit-of-work
time; same machine, same clock): the lag p50/p99. Then it waits for every event and
says whether they came in ``seq`` order and how many came twice (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from array import array
from datetime import datetime
from typing import Any

from aiohttp import web

from bench.client import Client, session
from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.server import PmServer, cpu_during
from bench.stats import summarize
from bench.workers import Control, Worker, floats, release
from pm_proto.v1 import commands_pb2, entities_pb2

TENANT = "bench"
SECRET = "bench-secret-0123456789"


def scenario_9(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    settings = {"webhook_allow_private": "true"}
    with PmServer(run.data_dir("s9"), run.log_path("s9"), settings) as server:
        project = asyncio.run(provision(server, TENANT, "HOOK"))
        receiver = Worker("bench.scenarios.webhooks:receiver", {"uvloop": run.client_uvloop})
        writer: Worker | None = None
        try:
            url = receiver.wait("ready", 60)
            asyncio.run(_register(server, url))
            writer = Worker(
                "bench.load:pipelined_writer",
                {
                    "url": server.ws_url,
                    "token": server.token(TENANT, OWNER),
                    "project_id": project.id,
                    "rate": sizes.s9_rate,
                    "uvloop": run.client_uvloop,
                },
                "s9-writer",
            )
            writer.wait("ready", 60)
            window = release([receiver, writer], sizes.warmup_s, sizes.s9_seconds)
            cpu = cpu_during(server.pid, window["measure_from"], window["until"])
            writes = writer.result(sizes.warmup_s + sizes.s9_seconds + 120)
            receiver.send("expect", writes["total"])
            received = receiver.result(180)
        finally:
            for worker in (receiver, writer):
                if worker is not None:
                    worker.kill()
    lags = floats(received["lags"])
    return {
        "rate": sizes.s9_rate,
        "receiver": "separate process",
        "creates_total": writes["total"],
        "creates_failed": writes["failed"],
        "events_received": received["distinct"],
        "events_missing": writes["total"] - received["distinct"],
        "duplicates": received["duplicates"],
        "in_order": received["in_order"],
        "deliveries_per_s": len(lags) / sizes.s9_seconds,
        "lag": summarize(lags),
        "cpu": cpu,
    }


async def _register(server: PmServer, url: str) -> None:
    """The endpoint, for work-item events only (the ones the writer makes)."""
    async with session() as http:
        admin = await Client.connect(http, server.ws_url, server.token(TENANT, OWNER, admin=True))
        try:
            await admin.request(
                "create_webhook",
                commands_pb2.CreateWebhook(
                    name="bench",
                    url=url,
                    secret=SECRET,
                    entity_types=[entities_pb2.ENTITY_TYPE_WORK_ITEM],
                ),
            )
        finally:
            await admin.close()


async def receiver(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Load process: the endpoint. Signals ``ready`` with its URL, takes the window with
    ``go``, then ``expect`` (events to wait for, up to a minute after it came)."""
    lags = array("d")
    seqs: list[int] = []
    seen: set[int] = set()
    window = {"measure_from": float("inf"), "until": float("inf")}
    complete = asyncio.Event()
    expect = float("inf")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        received = time.time()
        event = json.loads(body)
        seq = int(event["seq"])
        seqs.append(seq)
        if seq not in seen:
            seen.add(seq)
            occurred = datetime.fromisoformat(event["occurredAt"]).timestamp()
            if window["measure_from"] <= occurred < window["until"]:
                lags.append(received - occurred)
            if len(seen) >= expect:
                complete.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        ctl.signal("ready", f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        window = await ctl.wait("go")
        expect = await ctl.wait("expect")
        if len(seen) >= expect:
            complete.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), 60)
    finally:
        await runner.cleanup()
    first_seen = list(dict.fromkeys(seqs))
    return {
        "lags": lags.tobytes(),
        "distinct": len(seen),
        "duplicates": len(seqs) - len(seen),
        "in_order": first_seen == sorted(first_seen),
    }
