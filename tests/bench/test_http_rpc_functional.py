"""bench/http_rpc.py end to end at a tiny size: both doors measured against one real server."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.client import Client, session
from bench.fixtures import OWNER
from bench.http_rpc import TENANT, measure
from bench.server import PmServer
from pm_proto.v1 import commands_pb2


async def test_both_doors_are_measured_and_every_create_committed(tmp_path: Path) -> None:
    args = argparse.Namespace(clients=3, seconds=0.3, warmup_seconds=0.1, requests=4, warmup=1)
    with PmServer(tmp_path / "data", tmp_path / "server.log") as server:
        result = await measure(server, args)
        async with session() as http:
            client = await Client.connect(http, server.ws_url, server.token(TENANT, OWNER))
            projects = await client.request("list_projects", commands_pb2.ListProjects())
            (project,) = projects.projects.projects
            listed = await client.request(
                "list_work_items", commands_pb2.ListWorkItems(project_id=project.id, limit=1000)
            )
            await client.close()
    for door in ("websocket", "http"):
        assert result[f"{door}_sequential"]["count"] == 4
        assert result[f"{door}_concurrent"]["latency"]["count"] > 0
        assert result[f"{door}_concurrent"]["creates_per_s"] > 0
    measured = sum(result[f"{d}_concurrent"]["latency"]["count"] for d in ("websocket", "http"))
    # Sequential creates (warm-up included) and at least every measured concurrent one.
    assert len(listed.work_items.items) >= 2 * (4 + 1) + measured
