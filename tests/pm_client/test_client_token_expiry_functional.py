"""4001 is final for a connection: a token provider gives a fresh token, or the client stops."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_client import ConnectionLost, PmClient
from pm_proto.v1 import commands_pb2, entities_pb2
from pm_server.limits import LIMITS
from tests.pm_client.cli_support import cli_env, live_server, run_pm
from tests.pm_server.conftest import Server

TASK = entities_pb2.WORK_ITEM_TYPE_TASK
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


def just_expired(server: Server, user: str = "alice") -> str:
    """A token whose exp passed 5 s ago: within the server's leeway, so the upgrade is
    accepted and the connection is closed with 4001 at once."""
    key = load_or_create_signing_key(server.data_dir)
    issued = datetime.now(UTC) - timedelta(hours=1)
    return mint_token(
        key, tenant_id="acme", user_id=user, lifetime=timedelta(hours=1, seconds=-5), now=issued
    )


def expiring(server: Server, seconds: float) -> str:
    key = load_or_create_signing_key(server.data_dir)
    return mint_token(key, tenant_id="acme", user_id="alice", lifetime=timedelta(seconds=seconds))


def expiry_closes(server: Server) -> float:
    return float(server.app[LIMITS].limit_closes.labels("token_expired")._value.get())


def readme_exit_code(code: str) -> int:
    """The exit code README.md's "Exit codes" table gives for an error code."""
    rows = re.findall(r"^\| (\d+) \| `([A-Z_]+)`", README.read_text(), re.MULTILINE)
    return {name: int(number) for number, name in rows}[code]


async def test_expired_token_close_without_provider_is_final_and_not_retried(
    server: Server,
) -> None:
    async with PmClient(server.ws_url, just_expired(server)) as pm:
        with pytest.raises(ConnectionLost) as lost:
            await pm.ping()
        assert lost.value.close_code == 4001
        assert pm.reconnects == 0
        with pytest.raises(ConnectionLost):  # and it stays stopped
            await pm.ping()
    assert expiry_closes(server) == 1


async def test_expired_token_is_replaced_by_the_provider_and_events_resume(
    server: Server,
) -> None:
    asked: list[str] = []

    async def fresh() -> str:
        asked.append("fresh")
        return server.token()

    async with PmClient(server.ws_url, expiring(server, 2), token_provider=fresh) as pm:
        project = (await pm.create_project(key="EXP", name="Expiring")).project
        await pm.subscribe([project.id])
        async with asyncio.timeout(30):
            while pm.reconnects < 1:  # closed with 4001 at exp, back with the fresh token
                await asyncio.sleep(0.05)
        other = await server.client()
        created = await other.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(project_id=project.id, type=TASK, title="after"),
        )
        async with asyncio.timeout(10):
            async for event in pm.events():
                if event.work_item.id == created.work_item.item.id:
                    break
        assert (await pm.ping(nonce=3)).nonce == 3
    assert asked == ["fresh"]
    assert expiry_closes(server) == 1


async def test_provider_without_a_fresh_token_stops_the_client_with_4001(server: Server) -> None:
    asked = 0

    async def none() -> str | None:
        nonlocal asked
        asked += 1
        return None

    async with PmClient(server.ws_url, just_expired(server), token_provider=none) as pm:
        with pytest.raises(ConnectionLost) as lost:
            await pm.ping()
    assert lost.value.close_code == 4001
    assert asked == 1


async def test_backoff_keeps_growing_while_each_connection_dies_at_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    provided = 0

    async def still_expired() -> str | None:
        nonlocal provided
        provided += 1
        return just_expired(server) if provided <= 4 else None

    async with PmClient(server.ws_url, just_expired(server), token_provider=still_expired) as pm:
        attempts: list[int] = []
        backoff = pm._backoff

        def recorded(attempt: int) -> float:
            attempts.append(attempt)
            return backoff(attempt)

        monkeypatch.setattr(pm, "_backoff", recorded)
        with pytest.raises(ConnectionLost):
            await pm.ping()
    # Five connections that each died at once: the pause before each grew, never back to 0.
    assert attempts == [0, 1, 2, 3, 4]


async def test_cli_with_an_expired_token_exits_with_the_readme_code_and_connects_once(
    server: Server,
) -> None:
    result = await run_pm("project", "list", env=cli_env(server.ws_url, just_expired(server)))
    assert result.code == readme_exit_code("UNAUTHENTICATED") == 8, result.stderr
    assert "token expired" in result.stderr
    assert expiry_closes(server) == 1  # no reconnect loop
