"""The HTTP door beside the WebSocket: the same creates through both, in one run.

``python -m bench.http_rpc`` starts a real ``pm serve`` (the bench settings:
limits lifted) and measures, for each door in turn against that one server:

- one client creating work items one after another: round trip p50/p99;
- ``--clients`` clients (50) each sending its next create as soon as its
  previous answer came, for ``--seconds`` after a warm-up: creates/s, p50/p99.

Over HTTP each create is ``POST /v1/rpc/create_work_item`` with the JSON
body, on a connection of its own (pm closes every plain HTTP connection after
its answer: see docs/security.md, "The request head"), so the HTTP figures
include a TCP connect per request. The load runs in this process, on the same
machine as the server: compare the two doors with each other, on an idle
machine; absolute figures under other load mean little. Not part of
``make bench``; it takes about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf import json_format

from bench.client import Client, close_all, connect_many, session
from bench.fixtures import create_item, provision
from bench.machine import load_average
from bench.server import PmServer, cpu_seconds
from bench.stats import summarize
from pm_proto.v1 import entities_pb2

TENANT = "bench"

#: One create, sent by whichever door; returns when its answer came.
Create = Callable[[str], Awaitable[None]]


async def _sequential(create: Create, warmup: int, requests: int, pid: int) -> dict[str, Any]:
    latencies = []
    cpu = 0.0
    for n in range(warmup + requests):
        if n == warmup:
            cpu = cpu_seconds(pid)
        started = time.perf_counter()
        await create(f"Sequential item {n}")
        if n >= warmup:
            latencies.append(time.perf_counter() - started)
    return summarize(latencies) | {
        "server_cpu_ms_per_create": round((cpu_seconds(pid) - cpu) * 1000 / requests, 3)
    }


async def _closed_loop(
    creates: list[Create], warmup_s: float, seconds: float, pid: int
) -> dict[str, Any]:
    start = time.perf_counter()
    measure_from, until = start + warmup_s, start + warmup_s + seconds
    latencies: list[float] = []

    async def cpu_at(when: float) -> float:
        await asyncio.sleep(when - time.perf_counter())
        return cpu_seconds(pid)

    async def loop(create: Create, index: int) -> None:
        for n in itertools.count():
            began = time.perf_counter()
            if began >= until:
                return
            await create(f"Client {index} item {n}")
            if began >= measure_from:
                latencies.append(time.perf_counter() - began)

    cpu = asyncio.gather(cpu_at(measure_from), cpu_at(until))
    await asyncio.gather(*(loop(create, i) for i, create in enumerate(creates)))
    cpu_from, cpu_until = await cpu
    return {
        "creates_per_s": round(len(latencies) / seconds, 1),
        "latency": summarize(latencies),
        # Server CPU over the window per create measured in it (2 cores: at most 1 used).
        "server_cpu_ms_per_create": round(
            (cpu_until - cpu_from) * 1000 / max(1, len(latencies)), 3
        ),
    }


def _ws_create(client: Client, project_id: str) -> Create:
    async def create(title: str) -> None:
        await client.request("create_work_item", create_item(project_id, title))

    return create


def _http_create(http: aiohttp.ClientSession, url: str, token: str, project_id: str) -> Create:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def create(title: str) -> None:
        body = json.dumps(json_format.MessageToDict(create_item(project_id, title)))
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"create answered {response.status}")

    return create


async def measure(server: PmServer, args: argparse.Namespace) -> dict[str, Any]:
    users = [f"writer{i:03d}" for i in range(args.clients)]
    members = [(user, entities_pb2.ROLE_EDITOR) for user in users]
    project = await provision(server, TENANT, "DOORS", members)
    tokens = [server.token(TENANT, user) for user in users]
    url = f"{server.base_url}/v1/rpc/create_work_item"
    out: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds}
    connector = aiohttp.TCPConnector(limit=args.clients + 1)
    async with session() as ws_http, aiohttp.ClientSession(connector=connector) as http:
        one = await Client.connect(ws_http, server.ws_url, tokens[0])
        out["websocket_sequential"] = await _sequential(
            _ws_create(one, project.id), args.warmup, args.requests, server.pid
        )
        await one.close()
        out["http_sequential"] = await _sequential(
            _http_create(http, url, tokens[0], project.id), args.warmup, args.requests, server.pid
        )
        clients = await connect_many(ws_http, server.ws_url, tokens)
        out["websocket_concurrent"] = await _closed_loop(
            [_ws_create(c, project.id) for c in clients],
            args.warmup_seconds,
            args.seconds,
            server.pid,
        )
        await close_all(clients)
        out["http_concurrent"] = await _closed_loop(
            [_http_create(http, url, t, project.id) for t in tokens],
            args.warmup_seconds,
            args.seconds,
            server.pid,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_rpc", description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per door")
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=500, help="sequential, per door")
    parser.add_argument("--warmup", type=int, default=50, help="sequential warm-up requests")
    args = parser.parse_args(argv)
    before = load_average()
    with (
        tempfile.TemporaryDirectory() as tmp,
        PmServer(Path(tmp) / "data", Path(tmp) / "server.log") as server,
    ):
        result = asyncio.run(measure(server, args))
    result["load_average"] = {"start": before, "end": load_average()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
