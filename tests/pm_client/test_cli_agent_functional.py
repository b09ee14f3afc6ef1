"""README.md's "For agents" example, run as written against a live server (issue 5, acceptance 1).

Both shell blocks of the section run in one ``bash``, each ``pm`` a real
subprocess. Between them the test subscribes a second client (a tenant admin
watching the new project); everything the agent's session does must reach it,
exactly as the server's event log holds it, and the session's own ``pm watch``
must have printed the project's whole history.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pm_client.cli.output import to_json
from pm_proto.v1 import commands_pb2, entities_pb2, events_pb2
from tests.pm_client.cli_support import cli_env, live_server, pm_shim, stored_events
from tests.pm_server.conftest import Server

README = Path(__file__).resolve().parents[2] / "README.md"
#: Between the blocks: tell the test the project exists, wait until it has subscribed.
CHECKPOINT = "pm_test_checkpoint() { : > ready; while [ ! -e go ]; do sleep 0.05; done; }\n"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


def agent_blocks() -> list[str]:
    """The ``sh`` blocks of the README's "For agents" section, in order."""
    section = README.read_text().split("\n## For agents\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


async def wait_for_file(path: Path, proc: asyncio.subprocess.Process, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not path.exists():
            if proc.returncode is not None:
                out, err = await proc.communicate()
                raise AssertionError(f"the script ended early:\n{out.decode()}\n{err.decode()}")
            await asyncio.sleep(0.05)


async def test_readme_agent_example_runs_and_a_subscribed_client_sees_its_events(
    server: Server, tmp_path: Path
):
    setup, session = agent_blocks()
    assert "pm context pack --project SHOP" in session
    work = tmp_path / "work"
    work.mkdir()
    env = cli_env(server.ws_url, PM_DATA_DIR=str(server.data_dir))
    env["PATH"] = f"{pm_shim(tmp_path / 'bin')}{os.pathsep}{env['PATH']}"
    script = f"set -e\n{CHECKPOINT}{setup}\npm_test_checkpoint\n{session}"
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=work, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await wait_for_file(work / "ready", proc, timeout=60)

    observer = await server.client(user="observer", admin=True)
    project = (
        await observer.request("get_project", commands_pb2.GetProject(key="SHOP"))
    ).project.project
    subscribed = (
        await observer.request("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    ).subscribed
    (work / "go").touch()
    out, err = await asyncio.wait_for(proc.communicate(), timeout=100)
    assert proc.returncode == 0, err.decode()

    # The second client received every event of the session, as stored.
    stored = stored_events(server.data_dir, project.id, after=subscribed.seq)
    received = [await observer.next_event(timeout=10) for _ in stored]
    assert received == stored
    await observer.no_event(within=0.3)
    assert_session_effects(stored)

    # The session's `pm watch --since 0 --json` printed the whole history, once each.
    lines = (work / "shop-events.jsonl").read_text().splitlines()
    everything = stored_events(server.data_dir, project.id)
    assert [json.loads(line) for line in lines] == [to_json(event) for event in everything]

    # The first pack briefed the agent; the last one shows the work done.
    briefing = out.decode()
    assert "# Context pack: SHOP (Web shop)" in briefing
    assert "### Definition of done" in briefing
    pack = json.loads((work / "shop-pack.json").read_text())
    assert pack["item_keys"] == ["SHOP-3", "SHOP-2", "SHOP-1"]  # the newest change first
    assert "blocked by" not in pack["text"]  # SHOP-4 blocked SHOP-3, and it is done
    assert pack["context_ids"]
    assert "### Definition of done" in pack["text"]


def assert_session_effects(events: list[events_pb2.Event]) -> None:
    """What the README's session says it does, as the events show it."""
    created_items = [
        (
            e.work_item.display_key,
            entities_pb2.WorkItemType.Name(e.work_item.type),
            e.work_item.title,
        )
        for e in events
        if e.WhichOneof("entity") == "work_item" and e.action == entities_pb2.ACTION_CREATED
    ]
    assert created_items == [
        ("SHOP-1", "WORK_ITEM_TYPE_EPIC", "Checkout"),
        ("SHOP-2", "WORK_ITEM_TYPE_STORY", "Pay by card"),
        ("SHOP-3", "WORK_ITEM_TYPE_TASK", "Card form"),
        ("SHOP-4", "WORK_ITEM_TYPE_TASK", "Card API"),
    ]
    statuses = [
        entities_pb2.WorkItemStatus.Name(e.work_item.status)
        for e in events
        if e.WhichOneof("entity") == "work_item" and e.work_item.display_key == "SHOP-4"
    ]
    assert statuses == [
        "WORK_ITEM_STATUS_BACKLOG",
        "WORK_ITEM_STATUS_IN_PROGRESS",
        "WORK_ITEM_STATUS_DONE",
    ]
    kinds = [(e.WhichOneof("entity"), entities_pb2.Action.Name(e.action)) for e in events]
    assert kinds.count(("dependency", "ACTION_CREATED")) == 1
    assert kinds.count(("comment", "ACTION_CREATED")) == 2
    timers = [e.time_entry for e in events if e.WhichOneof("entity") == "time_entry"]
    assert [t.HasField("ended_at") for t in timers] == [False, True]  # started, then stopped
