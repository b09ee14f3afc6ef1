"""The tests' own Redis: it answers, a kill loses everything, a restart keeps its port."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from tests.redis_process import RedisProcess


async def test_redis_process_restarts_empty_on_its_port(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    try:
        client = aioredis.Redis.from_url(server.url)
        try:
            await client.set("k", "v")
            assert await client.get("k") == b"v"
        finally:
            await client.aclose()
        port = server.port
        server.kill()
        assert server.proc is None
        server.start()
        assert server.port == port
        client = aioredis.Redis.from_url(server.url)
        try:
            assert await client.get("k") is None  # no persistence: a restart starts empty
        finally:
            await client.aclose()
    finally:
        server.kill()
