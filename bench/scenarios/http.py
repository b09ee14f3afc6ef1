"""Scenario 8: the HTTP door beside the WebSocket, the same creates through both, one server.

Against one ``pm serve`` (the bench settings, no subscribers), for each door in turn:

- one client creating work items one after another: round trip p50/p99;
- ``s8_clients`` clients (50), each sending its next create as soon as its previous
  answer came: creates/s and round trip p50/p99 over the measured window.

The WebSocket phases run the load of scenarios 1 and 2 (:mod:`bench.load`); the HTTP
ones the same loops over ``POST /v1/rpc/create_work_item`` with the JSON body, one
aiohttp connection pool per load process (kept-alive connections when the server keeps
them; the result says whether it did). Scenario 2's own figures are not reused: it runs
with 10 subscribers on a server of its own, so its round trip is not the same measure.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from google.protobuf import json_format

from bench.config import Run
from bench.fixtures import create_item, provision
from bench.load import closed_loops
from bench.server import PmServer, cpu_during
from bench.stats import summarize
from bench.workers import Control, Worker, floats, release, results
from pm_proto.v1 import entities_pb2

TENANT = "bench"
CREATE_PATH = "/v1/rpc/create_work_item"

#: One create over HTTP: returns whether the server kept the connection alive.
Create = Callable[[str], Awaitable[bool]]


def scenario_8(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    writers = [f"writer{i:03d}" for i in range(sizes.s8_clients)]
    members = [(user, entities_pb2.ROLE_EDITOR) for user in writers]
    with PmServer(run.data_dir("s8"), run.log_path("s8")) as server:
        project = asyncio.run(provision(server, TENANT, "DOORS", members))
        tokens = [server.token(TENANT, user) for user in writers]
        common = {"project_id": project.id, "uvloop": run.client_uvloop}
        ws = common | {"url": server.ws_url}
        http = common | {"url": server.base_url + CREATE_PATH}
        sequential = {"warmup": sizes.s8_warmup, "requests": sizes.s8_requests}
        out: dict[str, Any] = {"clients": sizes.s8_clients, "requests": sizes.s8_requests}
        for door, target, params in (
            ("websocket", "bench.load:sequential_creates", ws),
            ("http", "bench.scenarios.http:sequential_http_creates", http),
        ):
            worker = Worker(target, params | sequential | {"token": tokens[0]}, f"s8-{door}-seq")
            (result,) = results([worker], 600)
            out[f"{door}_sequential"] = {"latency": summarize(floats(result["latencies"]))}
            if "kept_alive" in result:
                out["kept_alive"] = result["kept_alive"]
        for door, target, params in (
            ("websocket", "bench.load:closed_loop_creates", ws),
            ("http", "bench.scenarios.http:closed_loop_http_creates", http),
        ):
            out[f"{door}_concurrent"] = _closed_loop(
                run, server, target, params | {"tokens": tokens}
            )
    return out


def _closed_loop(run: Run, server: PmServer, target: str, params: dict[str, Any]) -> dict[str, Any]:
    sizes = run.sizes
    worker = Worker(target, params, f"s8-{target.rpartition(':')[2]}")
    try:
        worker.wait("ready", 120)
        window = release([worker], sizes.warmup_s, sizes.duration_s)
        cpu = cpu_during(server.pid, window["measure_from"], window["until"])
        result = worker.result(sizes.warmup_s + sizes.duration_s + 120)
    finally:
        worker.kill()
    latencies = floats(result["latencies"])
    seconds = window["until"] - window["measure_from"]
    return {
        "creates_per_s": len(latencies) / seconds,
        "latency": summarize(latencies),
        "cpu": cpu,
        "server_cpu_ms_per_create": round(
            cpu["server_cpu_cores"] * seconds * 1000 / max(1, len(latencies)), 3
        ),
    }


def _http_create(http: aiohttp.ClientSession, url: str, token: str, project_id: str) -> Create:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def create(title: str) -> bool:
        body = json.dumps(json_format.MessageToDict(create_item(project_id, title)))
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"create answered {response.status}")
            return response.headers.get("Connection", "").lower() != "close"

    return create


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))


async def sequential_http_creates(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Load process: one client's creates over HTTP, one after another."""
    async with _session(1) as http:
        create = _http_create(http, params["url"], params["token"], params["project_id"])
        latencies = array("d")
        kept_alive = True
        for n in range(params["warmup"] + params["requests"]):
            started = time.perf_counter()
            kept_alive &= await create(f"Sequential item {n}")
            if n >= params["warmup"]:
                latencies.append(time.perf_counter() - started)
    return {"latencies": latencies.tobytes(), "kept_alive": kept_alive}


async def closed_loop_http_creates(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Load process: each client sends its next create over HTTP when its previous
    answer came (the HTTP twin of :func:`bench.load.closed_loop_creates`)."""
    tokens = params["tokens"]
    async with _session(len(tokens)) as http:
        creates = [_http_create(http, params["url"], t, params["project_id"]) for t in tokens]
        ctl.signal("ready", len(creates))
        window = await ctl.wait("go")
        latencies, total = await closed_loops(creates, window)
    return {"latencies": latencies.tobytes(), "total": total}
