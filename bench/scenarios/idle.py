"""Scenario 5: what idle connections and open tenants cost the server in memory.

Memory is the server's resident set (VmRSS of /proc/<pid>/status) read after
a warm-up and again once the connections are up (or the tenants open) and
the server has settled; the difference divided by their number.

- Connections: ``s5_connections`` WebSockets of distinct users of one tenant,
  welcomed and then idle, held by separate load processes.
- Tenants: ``s5_tenants`` tenants (copies of one template) each opened by one
  connection that reads once (so its writer and one reader are open), then
  disconnects; the server keeps them all open (``PM_MAX_OPEN_TENANTS`` above
  their number).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.scenarios.creates import TENANT, chunks
from bench.seed import clone_tenant
from bench.server import PmServer
from bench.workers import Worker, results, wait_all

SETTLE_S = 1.0


def scenario_5(run: Run) -> dict[str, Any]:
    return {"connections": idle_connections(run), "tenants": open_tenants(run)}


def idle_connections(run: Run) -> dict[str, Any]:
    count = run.sizes.s5_connections
    users = [f"idle{i:05d}" for i in range(count)]
    with PmServer(run.data_dir("s5-connections"), run.log_path("s5-connections")) as server:
        warm = [server.token(TENANT, f"warm{i}") for i in range(20)]
        results([Worker("bench.load:touch_tenants", _params(run, server, warm), "s5-warm")], 120)
        time.sleep(SETTLE_S)
        before = server.rss_kib()
        fds_before = server.open_fds()
        workers = [
            Worker(
                "bench.load:idle_connections",
                _params(run, server, [server.token(TENANT, u) for u in part]),
                f"s5-idle-{i}",
            )
            for i, part in enumerate(chunks(users, run.sizes.load_processes))
        ]
        try:
            ready = wait_all(workers, "ready", 600)
            time.sleep(SETTLE_S)
            after = server.rss_kib()
            fds_after = server.open_fds()
            open_gauge = server.gauge("pm_connections")
            for worker in workers:
                worker.send("stop")
            done = results(workers, 120)
        finally:
            for worker in workers:
                worker.kill()
    connected = sum(r["connected"] for r in ready)
    return {
        "connections": connected,
        "still_open_at_end": sum(r["open_at_end"] for r in done),
        "server_reported": open_gauge,
        "connect_seconds": max(r["seconds"] for r in ready),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": (after - before) / max(1, connected),
        "fds_per_connection": (fds_after - fds_before) / max(1, connected),
    }


def open_tenants(run: Run) -> dict[str, Any]:
    count = run.sizes.s5_tenants
    data_dir = run.data_dir("s5-tenants")
    tenants = [f"m{i:05d}" for i in range(count + 1)]
    with PmServer(data_dir, run.log_path("s5-tenants")) as server:
        asyncio.run(provision(server, tenants[0], "MEM"))
    clone_tenant(data_dir, tenants[0], tenants[1:])
    settings = {"max_open_tenants": count + 10}
    with PmServer(data_dir, run.log_path("s5-tenants"), settings) as server:
        tokens = [server.token(t, OWNER) for t in tenants]
        # Warm up with the template tenant so code paths and caches are in place.
        results([Worker("bench.load:touch_tenants", _params(run, server, tokens[:1]), "warm")], 60)
        time.sleep(SETTLE_S)
        before = server.rss_kib()
        fds_before = server.open_fds()
        results([Worker("bench.load:touch_tenants", _params(run, server, tokens[1:]), "s5t")], 600)
        time.sleep(SETTLE_S)
        after = server.rss_kib()
        fds_after = server.open_fds()
        gauge = server.gauge("pm_open_tenants")
    opened = count
    return {
        "tenants": opened,
        "server_reported_open": gauge,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_tenant": (after - before) / max(1, opened),
        "fds_per_tenant": (fds_after - fds_before) / max(1, opened),
    }


def _params(run: Run, server: PmServer, tokens: list[str]) -> dict[str, Any]:
    return {"url": server.ws_url, "tokens": tokens, "uvloop": run.client_uvloop}
