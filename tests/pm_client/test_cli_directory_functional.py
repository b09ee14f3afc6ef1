"""``pm user`` and ``pm apikey`` against a live server: the secrets are printed once, a key
made with ``pm apikey create`` connects and writes as its agent, ``revoke`` shuts it out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.pm_client.cli_support import InThreadCli, Result, live_server
from tests.pm_server.conftest import Server
from tests.pm_server.wsclient import WsClient


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch) -> InThreadCli:
    for name in ("PM_URL", "PM_TOKEN", "PM_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return InThreadCli(server.ws_url, lambda user: server.token(user=user, admin=user == "root"))


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


async def js(cli: InThreadCli, *args: str, user: str = "root") -> Any:
    return ok(await cli(*args, "--json", user=user)).json()


async def test_user_invite_prints_the_link_once_and_list_shows_the_invited(
    cli: InThreadCli,
) -> None:
    out = ok(await cli("user", "invite", "dora@example.test", "--name", "Dora", user="root"))
    link = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/accept#token=pmi\.acme\.\S+\.[\w-]{43}", link)
    quiet = ok(await cli("user", "invite", "erin@example.test", "-q", user="root"))
    assert quiet.stdout.strip().startswith("http://")
    listed = ok(await cli("user", "list", user="root")).stdout
    assert re.search(r"Dora\s+dora@example\.test\s+human\s+invited", listed)
    data = await js(cli, "user", "list", "dor")
    assert [u["user"]["display_name"] for u in data["users"]] == ["Dora"]
    assert data["users"][0]["active"] is False
    refused = await cli("user", "invite", "x@example.test", user="alice")
    assert refused.code != 0
    assert "tenant_admin" in refused.stderr


async def test_apikey_create_connect_list_revoke(cli: InThreadCli, server: Server) -> None:
    ok(await cli("project", "create", "PM", "Board", user="root"))
    created = await js(cli, "apikey", "create", "ci-bot", "--display-name", "CI")
    secret = created["secret"]
    assert secret.startswith(f"pmk.acme.{created['api_key']['id']}.")
    agent_id = created["user"]["id"]
    ok(await cli("member", "add", agent_id, "--role", "editor", "-p", "PM", user="root"))
    agent = await WsClient.connect(server.ws_url, secret)
    server.clients.append(agent)
    assert agent.welcome.user.display_name == "CI"

    listed = ok(await cli("apikey", "list", user="root")).stdout
    assert "ci-bot" in listed
    assert created["api_key"]["prefix"] in listed
    assert secret not in listed
    ok(await cli("apikey", "revoke", created["api_key"]["id"], user="root"))
    assert agent._reader is not None
    await agent._reader
    assert agent.close_code == 4003
    assert ok(await cli("apikey", "list", user="root")).stdout.strip() == "no API keys"
    revoked = await js(cli, "apikey", "list", "--all")
    assert revoked["api_keys"][0]["revoked_at"] is not None
