"""SIGTERM during a burst of writes: /readyz turns 503, every acknowledged write survives."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2
from tests.pm_server.wsclient import ServerError, WsClient
from tests.serve_process import ServerProcess


async def test_sigterm_drains_and_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(
        data_dir,
        tmp_path / "server.log",
        {"PM_SHUTDOWN_GRACE_SECONDS": "5", "PM_DRAIN_DELAY_SECONDS": "0.5"},
    )
    await server.start()
    assert server.proc is not None
    proc, port = server.proc, server.port
    token = mint_token(load_or_create_signing_key(data_dir), tenant_id="acme", user_id="alice")
    url = f"ws://127.0.0.1:{port}/v1/ws"
    clients = [await WsClient.connect(url, token) for _ in range(4)]
    acknowledged: list[str] = []
    seen_503 = False

    async def burst(client: WsClient, worker: int) -> None:
        for n in range(10_000):
            key = f"W{worker}N{n}"
            try:
                reply = await client.request(
                    "create_project", commands_pb2.CreateProject(key=key, name=key), timeout=5
                )
            except (ServerError, ConnectionError, TimeoutError, aiohttp.ClientError):
                return
            acknowledged.append(reply.project.project.key)

    async def watch_readyz() -> None:
        nonlocal seen_503
        async with aiohttp.ClientSession() as session:
            for _ in range(500):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 503:
                            seen_503 = True
                            return
                except aiohttp.ClientError:
                    return
                await asyncio.sleep(0.005)

    bursts = [asyncio.ensure_future(burst(c, i)) for i, c in enumerate(clients)]
    await asyncio.sleep(0.5)
    watcher = asyncio.ensure_future(watch_readyz())
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(asyncio.gather(*bursts, watcher), timeout=30)
    assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    await server.stop()  # exited already: closes its log
    assert all(c.close_code in (1001, None) for c in clients), [c.close_code for c in clients]
    for client in clients:
        await client.close()

    conn = sqlite3.connect(data_dir / "tenants" / "acme" / "main.db")
    try:
        stored = {row[0] for row in conn.execute("SELECT key FROM projects")}
    finally:
        conn.close()
    assert len(acknowledged) > 20
    assert set(acknowledged) <= stored
    assert seen_503
