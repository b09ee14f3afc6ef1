"""PmClient sending as fast as the API allows: paced by RATE_LIMITED, never closed."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pm_client import PmClient
from pm_proto.v1 import entities_pb2
from pm_server.limits import LIMITS
from tests.pm_server.conftest import Server, start_server

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **overrides: Any) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path / "data", **overrides)
    try:
        yield srv
    finally:
        await runner.cleanup()


async def in_parallel(count: int, concurrency: int, job: Any) -> None:
    """Run ``job(n)`` for n in range(count), ``concurrency`` at a time."""
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            await job(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def refusals(server: Server) -> float:
    return float(server.app[LIMITS].rate_limited.labels("connection")._value.get())


def flood_closes(server: Server) -> float:
    return float(server.app[LIMITS].limit_closes.labels("flood")._value.get())


async def test_5000_creates_as_fast_as_allowed_with_default_limits_are_all_acked_unclosed(
    tmp_path: Path,
) -> None:
    async with (
        running(tmp_path) as server,
        PmClient(server.ws_url, server.token(), request_timeout=120) as pm,
    ):
        project = (await pm.create_project(key="FAST", name="Fast")).project
        keys: list[str] = []

        async def create(n: int) -> None:
            reply = await pm.create_work_item(project_id=project.id, type=TASK, title=f"t{n}")
            keys.append(reply.item.display_key)

        await in_parallel(5_000, 32, create)
        assert len(set(keys)) == 5_000
        assert pm.connected
        assert pm.reconnects == 0
        assert flood_closes(server) == 0
    path = server.data_dir / "tenants" / "acme" / "main.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        [(stored,)] = db.execute("SELECT count(*) FROM work_items WHERE deleted_at IS NULL")
    assert stored == 5_000


@pytest.mark.parametrize("concurrency", [1, 32])
async def test_pm_client_paces_itself_after_rate_limited_and_is_seldom_refused(
    tmp_path: Path, concurrency: int
) -> None:
    async with (
        running(
            tmp_path,
            rate_limit_connection_per_second=100,
            rate_limit_connection_burst=10,
            rate_limit_flood_refusals=5,
        ) as server,
        PmClient(server.ws_url, server.token(), request_timeout=60) as pm,
    ):

        async def ping(n: int) -> None:
            assert (await pm.ping(nonce=n)).nonce == n

        await in_parallel(300, concurrency, ping)
        assert pm.connected
        assert pm.reconnects == 0
        assert flood_closes(server) == 0
        # Paced once refused: a client retrying as told without pacing is refused about
        # once per request past the burst of 10 (290 here).
        assert refusals(server) < 300 / 4
        if concurrency > 10:  # more requests at once than the burst: refused for sure
            assert refusals(server) >= 1
