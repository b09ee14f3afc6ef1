"""Agents shown as agents: ``pm activity`` and ``pm watch`` lines name an agent's kind."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pm_client import PmClient
from pm_client.cli.session import Connection, Session
from pm_client.cli.watch import _Printer
from pm_proto.v1 import entities_pb2
from tests.pm_client.cli_support import InThreadCli, live_server
from tests.pm_server.conftest import Server

EDITOR = entities_pb2.ROLE_EDITOR


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


async def test_activity_and_watch_lines_show_an_agent_as_an_agent(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PM_URL", "PM_TOKEN", "PM_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    async with PmClient(server.ws_url, server.token("acme", "root", admin=True)) as root:
        key = await root.create_api_key(name="bot")
    agent = key.api_key.user_id
    cli = InThreadCli(
        server.ws_url, lambda user: key.secret if user == "bot" else server.token(user=user)
    )
    async with PmClient(server.ws_url, server.token()) as pm:
        project = (await pm.create_project(key="AG", name="Agents")).project
        await pm.add_member(project_id=project.id, user_id=agent, role=EDITOR)
        await pm.subscribe([project.id])
        by_bot = await cli("item", "create", "-p", "AG", "Written by the agent", user="bot")
        assert by_bot.code == 0, by_bot.stderr
        assert (await cli("item", "create", "-p", "AG", "Written by a person")).code == 0

        events = pm.events()
        by_agent, by_person = await anext(events), await anext(events)
        assert by_agent.actor_kind == entities_pb2.USER_KIND_AGENT
        session = Session(pm, Connection(server.ws_url, "", 10.0), json=False)
        printer = _Printer(session, as_json=False)
        assert f" {agent} (agent) created work_item AG-1 " in await printer.describe(by_agent)
        assert " alice created work_item AG-2 " in await printer.describe(by_person)

    listed = await cli("activity", "-p", "AG")
    assert listed.code == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    agent_row = re.compile(rf"\s{re.escape(agent)} \(agent\)\s+created\s+work_item AG-1")
    assert any(agent_row.search(row) for row in rows), rows
    assert any(re.search(r"\salice\s+created\s+work_item AG-2", row) for row in rows), rows
