"""Scenario 7: a cluster (docs/scaling.md).

1. ``s7_tenants`` tenants, ``s7_clients`` loops creating items in them as fast as
   replies come (each tenant one connection, taken in turn): one ``pm serve``
   process, then ``pm serve --workers 2`` with a Redis of the bench's own, on the
   same data, in the same run: creates/s of each and their ratio.
2. The relay's cost: two cluster processes; one client creates items one after
   another straight to the tenant's owner, then through the other process (which
   relays every frame): round trip p50/p99 of each and their difference.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.redis import RedisServer
from bench.scenarios.creates import chunks
from bench.seed import clone_tenant
from bench.server import PmServer, cpu_seconds, machine_cpu, with_children
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all


def scenario_7(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    data_dir = run.data_dir("s7")
    tenants = [f"c{i:04d}" for i in range(sizes.s7_tenants)]
    with PmServer(data_dir, run.log_path("s7")) as server:
        project = asyncio.run(provision(server, tenants[0], "CLU"))
    clone_tenant(data_dir, tenants[0], tenants[1:])
    out: dict[str, Any] = {"tenants": sizes.s7_tenants, "clients": sizes.s7_clients}
    out["one_process"] = _throughput(run, PmServer(data_dir, run.log_path("s7-one")), tenants,
                                     project.id)  # fmt: skip
    with RedisServer(run.workdir / "s7-redis") as redis:
        cluster = {"redis_url": redis.url}
        workers = PmServer(data_dir, run.log_path("s7-workers"), cluster, ("--workers", "2"))
        out["workers_2"] = _throughput(run, workers, tenants, project.id, processes=2)
        out["relay"] = _relay(run, data_dir, cluster, tenants[0], project.id)
    out["ratio"] = round(
        out["workers_2"]["mutations_per_s"] / max(1e-9, out["one_process"]["mutations_per_s"]), 2
    )
    return out


def _throughput(
    run: Run, server: PmServer, tenants: list[str], project_id: str, processes: int = 1
) -> dict[str, Any]:
    sizes = run.sizes
    with server:
        _wait_serving(server, processes)
        parts = chunks(tenants, sizes.load_processes)
        load = [
            Worker(
                "bench.load:tenant_round_robin",
                {
                    "url": server.ws_url,
                    "project_id": project_id,
                    "tokens": [server.token(t, OWNER) for t in part],
                    "concurrency": max(1, sizes.s7_clients // len(parts)),
                    "uvloop": run.client_uvloop,
                },
                f"s7-{i}",
            )
            for i, part in enumerate(parts)
        ]
        try:
            wait_all(load, "ready", 300)
            window = release(load, sizes.s7_warmup_s, sizes.s7_duration_s)
            time.sleep(max(0.0, window["measure_from"] - time.time()))
            pids = with_children(server.pid)
            cpu0, (busy0, total0), began = _cpu(pids), machine_cpu(), time.perf_counter()
            time.sleep(max(0.0, window["until"] - time.time()))
            cpu1, (busy1, total1) = _cpu(pids), machine_cpu()
            elapsed = time.perf_counter() - began
            done = results(load, sizes.s7_warmup_s + sizes.s7_duration_s + 120)
        finally:
            for worker in load:
                worker.kill()
    latencies = floats(b"".join(r["latencies"] for r in done))
    failures: dict[str, int] = {}
    for result in done:
        for name, count in result["failures"].items():
            failures[name] = failures.get(name, 0) + count
    return {
        "processes": processes,
        "mutations_per_s": len(latencies) / (window["until"] - window["measure_from"]),
        "latency": summarize(latencies),
        "failures": failures,
        "cpu": {
            "server_cpu_cores": round((cpu1 - cpu0) / elapsed, 2),
            "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        },
    }


def _relay(
    run: Run, data_dir: Any, cluster: dict[str, Any], tenant: str, project_id: str
) -> dict[str, Any]:
    sizes = run.sizes
    owner = PmServer(data_dir, run.log_path("s7-owner"), cluster)
    other = PmServer(data_dir, run.log_path("s7-other"), cluster)
    with owner, other:
        _wait_serving(other, 1)

        def creates(server: PmServer, name: str) -> dict[str, Any]:
            params = {
                "url": server.ws_url,
                "token": owner.token(tenant, OWNER),
                "project_id": project_id,
                "warmup": max(50, sizes.s7_relay_requests // 10),
                "requests": sizes.s7_relay_requests,
                "uvloop": run.client_uvloop,
            }
            (result,) = results([Worker("bench.load:sequential_creates", params, name)], 600)
            return summarize(floats(result["latencies"]))

        direct = creates(owner, "s7-direct")  # its first connection: the owner takes it
        relayed = creates(other, "s7-relayed")
    return {
        "requests": sizes.s7_relay_requests,
        "direct": direct,
        "relayed": relayed,
        "added_p50_ms": round(relayed["p50_ms"] - direct["p50_ms"], 3),
    }


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def _wait_serving(server: PmServer, processes: int, timeout: float = 60) -> None:
    """Wait until ``processes`` of the server log that they serve (every worker is up)."""
    deadline = time.monotonic() + timeout
    while server.log_path.read_text(errors="replace").count(" serving on ") < processes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{processes} processes did not start serving")
        time.sleep(0.05)
