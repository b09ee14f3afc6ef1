"""Webhook delivery lag: how long after its commit an event reaches its endpoint.

``python -m bench.webhook_lag [--rate 500] [--seconds 10]`` starts a real ``pm serve``
(with ``PM_WEBHOOK_ALLOW_PRIVATE=true``) and a receiver on 127.0.0.1 that answers 204,
registers one endpoint for the tenant, then creates work items at ``--rate`` per second
for ``--seconds`` over one connection (each create sent on schedule, replies awaited
concurrently). For every event the receiver notes the time it arrived less the event's
``occurredAt`` (the server's clock, on the same machine): the lag from commit to
receipt, p50/p90/p99/max, and the deliveries per second. Not part of ``make bench``.
Figures taken on a machine busy with other work say little.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.server import PmServer
from bench.stats import summarize
from pm_client.client import PmClient
from pm_proto.v1 import entities_pb2

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


async def measure(server: PmServer, rate: float, seconds: float) -> dict[str, Any]:
    lags: list[float] = []
    seqs: list[int] = []
    done = asyncio.Event()
    expected = int(rate * seconds)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        received = time.time()
        event = json.loads(body)
        occurred = datetime.fromisoformat(event["occurredAt"].replace("Z", "+00:00"))
        lags.append(received - occurred.timestamp())
        seqs.append(int(event["seq"]))
        if len(seqs) >= expected:
            done.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with PmClient(server.ws_url, server.token("bench", "admin", admin=True)) as pm:
            project = (await pm.create_project(key="HOOK", name="Webhooks")).project
            await pm.create_webhook(name="bench", url=url, secret="bench-secret-0123456789")
            tasks = []
            started = time.perf_counter()
            for n in range(expected):
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(
                    asyncio.ensure_future(
                        pm.create_work_item(project_id=project.id, type=TASK, title=f"t{n}")
                    )
                )
            await asyncio.gather(*tasks)
            offered = expected / (time.perf_counter() - started)
            await asyncio.wait_for(done.wait(), 120)
            delivered_in = time.perf_counter() - started
    finally:
        await runner.cleanup()
    return {
        "events": expected,
        "offered_per_s": round(offered, 1),
        "delivered_per_s": round(len(seqs) / delivered_in, 1),
        "in_order": seqs == sorted(seqs),
        "lag": {k: round(v, 2) if isinstance(v, float) else v for k, v in summarize(lags).items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_lag")
    parser.add_argument("--rate", type=float, default=500.0, help="creates per second (500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to write (10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"webhook_allow_private": "true"}
        with PmServer(Path(tmp) / "data", Path(tmp) / "server.log", settings) as server:
            result = asyncio.run(measure(server, args.rate, args.seconds))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
