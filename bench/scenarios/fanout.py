"""Scenario 3: one writer, many subscribers of its project.

The writer is one connection keeping ``s3_window`` creates in flight; every
subscriber receives every event. Deliveries/s counts the events that reached
any subscriber whose ``occurred_at`` lies in the measured window, divided by
the time from the window's start to the last such receipt. Latency is
receipt time minus ``occurred_at`` (set in the unit of work, just before the
commit), on the same machine's clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.config import Run
from bench.fixtures import provision
from bench.profile import profiled
from bench.scenarios.creates import TENANT, chunks
from bench.server import PmServer, cpu_during
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all
from pm_proto.v1 import entities_pb2


def scenario_3(run: Run) -> dict[str, Any]:
    out = {str(n): fan_out(run, n) for n in run.sizes.s3_subscribers}
    biggest = max(run.sizes.s3_subscribers)
    out[str(biggest)]["paced"] = fan_out(run, biggest, rate=run.sizes.s3_paced_rate)
    return out


def fan_out(run: Run, subscriber_count: int, rate: float | None = None) -> dict[str, Any]:
    """Fan-out to ``subscriber_count``: the writer at full speed (``s3_window`` creates in
    flight), or paced at ``rate`` creates/s, so latency is also measured at a set load."""
    sizes = run.sizes
    name = f"s3-{subscriber_count}" + ("-paced" if rate else "")
    users = [f"sub{i:05d}" for i in range(subscriber_count)]
    members = [("writer", entities_pb2.ROLE_EDITOR)]
    members += [(u, entities_pb2.ROLE_VIEWER) for u in users]
    with PmServer(run.data_dir(name), run.log_path(name)) as server:
        began = time.perf_counter()
        project = asyncio.run(provision(server, TENANT, "FAN", members))
        run.echo(
            f"  {subscriber_count:,} subscribers provisioned in {time.perf_counter() - began:.1f} s"
        )
        common = {"url": server.ws_url, "project_id": project.id, "uvloop": run.client_uvloop}
        processes = sizes.load_processes if subscriber_count >= 500 else 1
        receivers = [
            Worker(
                "bench.load:subscribers",
                common | {"tokens": [server.token(TENANT, u) for u in part]},
                f"{name}-subscribers-{i}",
            )
            for i, part in enumerate(chunks(users, processes))
        ]
        writer = Worker(
            "bench.load:pipelined_writer",
            common
            | {"token": server.token(TENANT, "writer"), "window": sizes.s3_window, "rate": rate},
            f"{name}-writer",
        )
        workers = [*receivers, writer]
        out: dict[str, Any] = {"subscribers": subscriber_count, "writer_window": sizes.s3_window}
        if rate:
            out = {"subscribers": subscriber_count, "writer_rate": rate}
        try:
            wait_all(workers, "ready", 180)
            window = release(workers, sizes.warmup_s, sizes.duration_s)
            with profiled(run.profile_dir, name, server.pid, out):
                out["cpu"] = cpu_during(server.pid, window["measure_from"], window["until"])
                writes = writer.result(sizes.warmup_s + sizes.duration_s + 120)
                for receiver in receivers:
                    receiver.send("expect", writes["total"])
                reads = results(receivers, 300)
        finally:
            for worker in workers:
                worker.kill()
        rss = server.rss_kib()
    in_window = sum(r["in_window"] for r in reads)
    last = max(r["last_receipt"] for r in reads)
    latencies = floats(b"".join(r["latencies"] for r in reads))
    run.event_frame_bytes = max(r["event_frame_bytes"] for r in reads) or run.event_frame_bytes
    out |= {
        "events_written": writes["total"],
        "writer_failed": writes.get("failed", 0),
        "deliveries": in_window,
        "deliveries_per_s": in_window / max(1e-9, last - window["measure_from"]),
        "missing": sum(r["missing"] for r in reads),
        "latency": summarize(latencies),
        "event_frame_bytes": run.event_frame_bytes,
        "server_rss_kib": rss,
    }
    return out
