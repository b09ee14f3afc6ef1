"""Scenario 4: many tenants used round robin, more than the server keeps open.

One template tenant is made through the protocol (a project owned by the
token's user), then copied to ``s4_tenants`` tenants while the server is
stopped. The server restarts with ``PM_MAX_OPEN_TENANTS=s4_open_cap``; each
load process holds one connection per tenant of its share and
``s4_concurrency`` loops in all take the next tenant in turn and create one
item. Round robin over more tenants than the cap is the LRU's worst case:
nearly every mutation opens a database and closes (checkpoints) another.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.profile import profiled
from bench.scenarios.creates import chunks
from bench.seed import clone_tenant
from bench.server import PmServer, cpu_during
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all


def scenario_4(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    data_dir = run.data_dir("s4")
    tenants = [f"t{i:05d}" for i in range(sizes.s4_tenants)]
    with PmServer(data_dir, run.log_path("s4")) as server:
        project = asyncio.run(provision(server, tenants[0], "TEN"))
    clone_tenant(data_dir, tenants[0], tenants[1:])
    settings = {"max_open_tenants": sizes.s4_open_cap}
    out: dict[str, Any] = {
        "tenants": sizes.s4_tenants,
        "open_cap": sizes.s4_open_cap,
        "concurrency": sizes.s4_concurrency,
    }
    with PmServer(data_dir, run.log_path("s4"), settings) as server:
        parts = chunks(tenants, sizes.load_processes)
        workers = [
            Worker(
                "bench.load:tenant_round_robin",
                {
                    "url": server.ws_url,
                    "project_id": project.id,
                    "tokens": [server.token(t, OWNER) for t in part],
                    "concurrency": max(1, sizes.s4_concurrency // len(parts)),
                    "uvloop": run.client_uvloop,
                },
                f"s4-{i}",
            )
            for i, part in enumerate(parts)
        ]
        try:
            wait_all(workers, "ready", 300)
            window = release(workers, sizes.warmup_s, sizes.duration_s)
            with profiled(run.profile_dir, "s4", server.pid, out):
                out["cpu"] = cpu_during(server.pid, window["measure_from"], window["until"])
                done = results(workers, sizes.warmup_s + sizes.duration_s + 120)
        finally:
            for worker in workers:
                worker.kill()
        out["server_rss_kib"] = server.rss_kib()
        out["server_fds"] = server.open_fds()
    latencies = floats(b"".join(r["latencies"] for r in done))
    failures: dict[str, int] = {}
    for result in done:
        for name, count in result["failures"].items():
            failures[name] = failures.get(name, 0) + count
    out |= {
        "mutations_per_s": len(latencies) / (window["until"] - window["measure_from"]),
        "latency": summarize(latencies),
        "failures": failures,
    }
    return out
