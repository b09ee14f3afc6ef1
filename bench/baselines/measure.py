"""Running the baselines with the same sizes, windows and load processes as pm's scenarios."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.config import Run
from bench.fixtures import provision
from bench.scenarios.creates import TENANT
from bench.seed import tenant_db
from bench.server import PmServer, cpu_during, rss_kib
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all
from pm_server.settings import Settings

SETTLE_S = 1.0
#: Databases the churn baseline cycles through (each is closed long before its next turn).
CHURN_DATABASES = 200
#: The size pm's frames had when the pm scenarios did not run first (``--only``).
DEFAULT_REQUEST_BYTES = 80
DEFAULT_REPLY_BYTES = 190
DEFAULT_EVENT_FRAME_BYTES = 265


def _server(run: Run, target: str, params: dict[str, Any], name: str) -> tuple[Worker, str, int]:
    """A bare server process on the event loop the pm server uses."""
    if run.server_uvloop is None:
        with PmServer(run.data_dir("loop-probe"), run.log_path("loop-probe")) as server:
            run.server_uvloop = server.uses_uvloop()
    params = params | {"uvloop": run.server_uvloop}
    worker = Worker(f"bench.baselines.bare:{target}", params, name)
    ready = worker.wait("ready", 60)
    return worker, ready["url"], ready["pid"]


def echo(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    request_bytes = run.request_bytes or DEFAULT_REQUEST_BYTES
    reply_bytes = run.reply_bytes or DEFAULT_REPLY_BYTES
    server, url, pid = _server(run, "echo_server", {"reply_bytes": reply_bytes}, "echo-server")
    try:
        common = {"url": url, "request_bytes": request_bytes, "uvloop": run.client_uvloop}
        sequential_params = common | {"warmup": sizes.s1_warmup, "requests": sizes.s1_requests}
        (sequential,) = results(
            [Worker("bench.baselines.bare:echo_sequential", sequential_params, "echo-seq")], 600
        )
        loop = Worker(
            "bench.baselines.bare:echo_closed_loop",
            common | {"clients": sizes.s2_clients},
            "echo-clients",
        )
        wait_all([loop], "ready", 120)
        window = release([loop], sizes.warmup_s, sizes.duration_s)
        cpu = cpu_during(pid, window["measure_from"], window["until"])
        (concurrent,) = results([loop], sizes.warmup_s + sizes.duration_s + 120)
    finally:
        server.send("stop")
        results([server], 60)
    latencies = floats(concurrent["latencies"])
    return {
        "request_bytes": request_bytes,
        "reply_bytes": reply_bytes,
        "sequential": {"latency": summarize(floats(sequential["latencies"]))},
        "concurrent": {
            "clients": sizes.s2_clients,
            "round_trips_per_s": len(latencies) / (window["until"] - window["measure_from"]),
            "latency": summarize(latencies),
            "cpu": cpu,
        },
    }


def fanout(run: Run) -> dict[str, Any]:
    return {str(n): _fanout(run, n) for n in run.sizes.s3_subscribers}


def _fanout(run: Run, connections: int) -> dict[str, Any]:
    sizes = run.sizes
    frame_bytes = run.event_frame_bytes or DEFAULT_EVENT_FRAME_BYTES
    server, url, pid = _server(run, "fanout_server", {"frame_bytes": frame_bytes}, "fanout-server")
    processes = sizes.load_processes if connections >= 500 else 1
    share = [connections // processes + (i < connections % processes) for i in range(processes)]
    receivers = [
        Worker(
            "bench.baselines.bare:fanout_receivers",
            {"url": url, "connections": n, "uvloop": run.client_uvloop},
            f"fanout-receivers-{i}",
        )
        for i, n in enumerate(share)
    ]
    try:
        wait_all(receivers, "ready", 180)
        window = release([*receivers, server], sizes.warmup_s, sizes.duration_s)
        cpu = cpu_during(pid, window["measure_from"], window["until"])
        done = results(receivers, sizes.warmup_s + sizes.duration_s + 180)
        server.send("stop")
        (sent,) = results([server], 60)
    finally:
        for worker in (*receivers, server):
            worker.kill()
    in_window = sum(r["in_window"] for r in done)
    last = max(r["last_receipt"] for r in done)
    return {
        "connections": connections,
        "frame_bytes": frame_bytes,
        "rounds": sent["rounds"],
        "cpu": cpu,
        "deliveries_per_s": in_window / max(1e-9, last - window["measure_from"]),
        "latency": summarize(floats(b"".join(r["latencies"] for r in done))),
    }


def group_commit(run: Run, synchronous: str = "NORMAL") -> dict[str, Any]:
    sizes = run.sizes
    params = {
        "path": str(run.data_dir("baseline-sqlite") / "raw.db"),
        "synchronous": synchronous,
        "batch": sizes.s2_clients,
        "event_bytes": max(1, (run.event_frame_bytes or DEFAULT_EVENT_FRAME_BYTES) - 3),
        "reply_bytes": run.reply_bytes or DEFAULT_REPLY_BYTES,
        "warmup_s": sizes.warmup_s,
        "duration_s": sizes.duration_s,
    }
    (result,) = results([Worker("bench.baselines.sqlite:group_commit", params, "raw-sqlite")], 600)
    return result


def idle(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    server, url, pid = _server(run, "echo_server", {"reply_bytes": 1}, "idle-server")
    try:
        warm = Worker(
            "bench.baselines.bare:idle_sockets",
            {"url": url, "connections": 20, "uvloop": run.client_uvloop},
            "idle-warm",
        )
        wait_all([warm], "ready", 60)
        warm.send("stop")
        results([warm], 60)
        time.sleep(SETTLE_S)
        before = rss_kib(pid)
        count = sizes.s5_connections
        processes = sizes.load_processes
        share = [count // processes + (i < count % processes) for i in range(processes)]
        workers = [
            Worker(
                "bench.baselines.bare:idle_sockets",
                {"url": url, "connections": n, "uvloop": run.client_uvloop},
                f"idle-{i}",
            )
            for i, n in enumerate(share)
        ]
        ready = wait_all(workers, "ready", 600)
        time.sleep(SETTLE_S)
        after = rss_kib(pid)
        for worker in workers:
            worker.send("stop")
        results(workers, 120)
    finally:
        server.send("stop")
        results([server], 60)
    connected = sum(r["connected"] for r in ready)
    return {
        "connections": connected,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": (after - before) / max(1, connected),
    }


def churn(run: Run, synchronous: str = "NORMAL") -> dict[str, Any]:
    """Scenario 4's ceiling: SQLite's own open, commit, close cycle on pm's write threads."""
    sizes = run.sizes
    threads = Settings.model_fields["db_write_threads"].default
    params = {
        "template": str(_template(run)),
        "folder": str(run.data_dir("baseline-churn")),
        "count": CHURN_DATABASES,
        "threads": threads,
        "synchronous": synchronous,
        "event_bytes": max(1, (run.event_frame_bytes or DEFAULT_EVENT_FRAME_BYTES) - 3),
        "reply_bytes": run.reply_bytes or DEFAULT_REPLY_BYTES,
        "warmup_s": sizes.warmup_s,
        "duration_s": sizes.duration_s,
    }
    (result,) = results([Worker("bench.baselines.sqlite:churn", params, "raw-churn")], 600)
    return result


def open_databases(run: Run, synchronous: str = "NORMAL") -> dict[str, Any]:
    params = {
        "template": str(_template(run)),
        "folder": str(run.data_dir("baseline-open-dbs")),
        "count": run.sizes.s5_tenants,
        "synchronous": synchronous,
    }
    (result,) = results([Worker("bench.baselines.sqlite:open_databases", params, "raw-open")], 600)
    return result


def _template(run: Run) -> Path:
    """A stopped tenant's database: scenario 4's or 5's template, or a new one."""
    for made in (
        tenant_db(run.workdir / "s4", "t00000"),
        tenant_db(run.workdir / "s5-tenants", "m00000"),
    ):
        if made.exists():
            return made
    data_dir = run.data_dir("baseline-template")
    with PmServer(data_dir, run.log_path("baseline-template")) as server:
        asyncio.run(provision(server, TENANT, "MEM"))
    return tenant_db(data_dir, TENANT)
