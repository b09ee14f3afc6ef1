"""Scenario 6: reads as one project grows to ``s6_items`` work items.

The project is made through the protocol; the items are written straight
into its database while the server is stopped (:mod:`bench.seed`), level by
level. At each level the server restarts on the data and one client measures,
after a warm-up, get-by-key (``GetWorkItem`` by display key of a random item)
and list-by-status (``ListWorkItems`` of one random status, ``s6_list_limit``
items a page) round trips, one request at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.profile import profiled
from bench.scenarios.creates import TENANT
from bench.seed import seed_items, tenant_db
from bench.server import PmServer
from bench.stats import summarize
from bench.workers import Worker, floats, results

KEY = "GROW"


def scenario_6(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    data_dir = run.data_dir("s6")
    with PmServer(data_dir, run.log_path("s6")) as server:
        project = asyncio.run(provision(server, TENANT, KEY))
    db = tenant_db(data_dir, TENANT)
    levels: dict[str, Any] = {}
    for items in sizes.s6_items:
        run.echo(f"  seeding {items:,} work items")
        seeded = seed_items(db, project.id, OWNER, items)
        level: dict[str, Any] = {"items": items, "seed_seconds": seeded["seconds"]}
        with PmServer(data_dir, run.log_path("s6")) as server:
            params = {
                "url": server.ws_url,
                "token": server.token(TENANT, OWNER),
                "project_id": project.id,
                "key": KEY,
                "items": items,
                "limit": sizes.s6_list_limit,
                "warmup": 100,
                "gets": sizes.s6_gets,
                "lists": sizes.s6_lists,
                "max_seconds": sizes.s6_max_seconds,
                "uvloop": run.client_uvloop,
            }
            with profiled(run.profile_dir, f"s6-{items}", server.pid, level):
                (result,) = results([Worker("bench.load:read_latency", params, "s6")], 900)
            level["server_rss_kib"] = server.rss_kib()
        level |= {
            "get_by_key": summarize(floats(result["gets"])),
            "list_by_status": summarize(floats(result["lists"])),
            "items_per_list": result["items_per_list"],
            "db_mib": db.stat().st_size / 2**20,
        }
        levels[str(items)] = level
    first, last = str(sizes.s6_items[0]), str(sizes.s6_items[-1])
    return {
        "levels": levels,
        "list_limit": sizes.s6_list_limit,
        "get_p50_growth": levels[last]["get_by_key"]["p50_ms"]
        / levels[first]["get_by_key"]["p50_ms"],
        "list_p50_growth": levels[last]["list_by_status"]["p50_ms"]
        / levels[first]["list_by_status"]["p50_ms"],
    }
