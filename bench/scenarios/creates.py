"""Scenarios 1 and 2: creates from one sequential client, then from 50 at once.

1. One client creates work items one after another: round trip p50/p99.
2. ``s2_clients`` clients each send their next create as soon as the reply to
   the previous one came, while ``s2_subscribers`` other connections receive
   every event: creates/s, round trip p50/p99, and whether every subscriber got
   every event.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from bench.config import Run
from bench.fixtures import provision
from bench.profile import profiled
from bench.server import PmServer, cpu_during, cpu_seconds
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all
from pm_proto.v1 import entities_pb2

TENANT = "bench"


def scenario_1(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    with PmServer(run.data_dir("s1"), run.log_path("s1")) as server:
        project = asyncio.run(provision(server, TENANT, "SEQ"))
        run.server_uvloop = server.uses_uvloop()
        params = {
            "url": server.ws_url,
            "token": server.token(TENANT, "owner"),
            "project_id": project.id,
            "warmup": sizes.s1_warmup,
            "requests": sizes.s1_requests,
            "uvloop": run.client_uvloop,
        }
        out: dict[str, Any] = {"requests": sizes.s1_requests}
        with profiled(run.profile_dir, "s1", server.pid, out):
            cpu0, began = cpu_seconds(server.pid), time.perf_counter()
            (result,) = results([Worker("bench.load:sequential_creates", params, "s1")], 600)
            out["cpu"] = {
                "server_cpu_cores": round(
                    (cpu_seconds(server.pid) - cpu0) / (time.perf_counter() - began), 2
                )
            }
        rss = server.rss_kib()
    run.request_bytes = result["request_bytes"]
    run.reply_bytes = result["reply_bytes"]
    out |= {
        "latency": summarize(floats(result["latencies"])),
        "request_bytes": result["request_bytes"],
        "reply_bytes": result["reply_bytes"],
        "server_rss_kib": rss,
    }
    return out


def scenario_2(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    writers = [f"writer{i:03d}" for i in range(sizes.s2_clients)]
    readers = [f"reader{i:03d}" for i in range(sizes.s2_subscribers)]
    members = [
        *((u, entities_pb2.ROLE_EDITOR) for u in writers),
        *((u, entities_pb2.ROLE_VIEWER) for u in readers),
    ]
    with PmServer(run.data_dir("s2"), run.log_path("s2")) as server:
        project = asyncio.run(provision(server, TENANT, "CONC", members))
        common = {"url": server.ws_url, "project_id": project.id, "uvloop": run.client_uvloop}
        subscriber = Worker(
            "bench.load:subscribers",
            common | {"tokens": [server.token(TENANT, u) for u in readers]},
            "s2-subscribers",
        )
        writer = Worker(
            "bench.load:closed_loop_creates",
            common | {"tokens": [server.token(TENANT, u) for u in writers]},
            "s2-writers",
        )
        workers = [subscriber, writer]
        out: dict[str, Any] = {"clients": sizes.s2_clients, "subscribers": sizes.s2_subscribers}
        try:
            wait_all(workers, "ready", 120)
            window = release(workers, sizes.warmup_s, sizes.duration_s)
            with profiled(run.profile_dir, "s2", server.pid, out):
                out["cpu"] = cpu_during(server.pid, window["measure_from"], window["until"])
                writes = writer.result(sizes.warmup_s + sizes.duration_s + 120)
            subscriber.send("expect", writes["total"])
            (reads,) = results([subscriber], 180)
        finally:
            for worker in workers:
                worker.kill()
        rss = server.rss_kib()
    latencies = floats(writes["latencies"])
    seconds = window["until"] - window["measure_from"]
    out |= {
        "creates_per_s": len(latencies) / seconds,
        "latency": summarize(latencies),
        "creates_total": writes["total"],
        "events_received": reads["received"],
        "events_missing": reads["missing"],
        "deliveries_per_s": reads["in_window"]
        / max(1e-9, reads["last_receipt"] - window["measure_from"]),
        "event_latency": summarize(floats(reads["latencies"])),
        "server_rss_kib": rss,
    }
    return out


def chunks(values: list[str], parts: int) -> list[list[str]]:
    """``values`` dealt round robin into ``parts`` lists (none empty unless values is short)."""
    dealt: list[list[str]] = [[] for _ in range(max(1, min(parts, len(values))))]
    for value, bucket in zip(values, itertools.cycle(dealt), strict=False):
        bucket.append(value)
    return dealt
