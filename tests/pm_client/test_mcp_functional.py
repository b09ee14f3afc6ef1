"""``pm mcp`` driven by the MCP SDK's own stdio client against a live server.

The agent (an editor of SHOP, connected by ``pm mcp`` as a subprocess) lists
the tools, calls every one of them, and reads the project's llm_context as
resources; a WebSocket subscriber of SHOP sees each write as its event. A
stale write comes back as a tool error with pm's code and message.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import mcp.types as mcp_types
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from pm_client.mcp.tools import TOOL_COMMANDS
from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_client.cli_support import cli_env, live_server, pm_shim
from tests.pm_server.conftest import Server, create_project, subscribe

EDITOR = entities_pb2.ROLE_EDITOR


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


def params(server: Server, user: str = "agent", **extra: str) -> StdioServerParameters:
    env = cli_env(server.ws_url, server.token(user=user), **extra)
    return StdioServerParameters(command=sys.executable, args=["-m", "pm_server", "mcp"], env=env)


def text_of(called: mcp_types.CallToolResult) -> str:
    (content,) = called.content
    assert isinstance(content, mcp_types.TextContent)
    return content.text


def result(called: Any) -> Any:
    assert not called.is_error, text_of(called)
    return called.structured_content


#: Each tool, the arguments the test calls it with, and the event a subscriber then sees
#: (entity, action), or None for a read. Calls run in this order.
CALLS: Final[list[tuple[str, dict[str, Any], tuple[str, str] | None]]] = [
    ("list_projects", {}, None),
    ("get_project", {"key": "SHOP"}, None),
    ("create_work_item", {"project_id": "SHOP", "type": "story", "title": "Pay by card"},
     ("work_item", "ACTION_CREATED")),
    ("create_work_item", {"project_id": "shop", "type": "task", "title": "Card API",
                          "parent_id": "SHOP-1"}, ("work_item", "ACTION_CREATED")),
    ("update_work_item", {"item_id": "SHOP-2", "expected_version": 1, "status": "in_progress"},
     ("work_item", "ACTION_UPDATED")),
    ("create_comment", {"work_item_id": "SHOP-2", "body": "API first."},
     ("comment", "ACTION_CREATED")),
    ("watch_work_item", {"work_item_id": "SHOP-1"}, ("watch", "ACTION_CREATED")),
    ("list_notifications", {"unread_only": True}, None),
    ("create_dependency", {"from_item_id": "SHOP-2", "to_item_id": "SHOP-1", "type": "blocks"},
     ("dependency", "ACTION_CREATED")),
    ("create_sprint", {"project_id": "SHOP", "name": "Sprint 1",
                       "starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-03-16T00:00:00Z"},
     ("sprint", "ACTION_CREATED")),
    ("list_sprints", {"project_id": "SHOP"}, None),
    ("get_sprint_report", {"sprint_id": "<sprint>"}, None),
    ("start_timer", {"work_item_id": "SHOP-2"}, ("time_entry", "ACTION_CREATED")),
    ("stop_timer", {}, ("time_entry", "ACTION_UPDATED")),
    ("create_time_entry", {"work_item_id": "SHOP-2", "started_at": "2026-03-01T09:00:00Z",
                           "ended_at": "2026-03-01T10:30:00Z", "note": "pairing"},
     ("time_entry", "ACTION_CREATED")),
    ("create_llm_context", {"project_id": "SHOP", "context_type": "business_rule",
                            "title": "Card data", "content": "Card numbers never reach us."},
     ("llm_context", "ACTION_CREATED")),
    ("update_llm_context", {"context_id": "<row>", "priority": 90},
     ("llm_context", "ACTION_UPDATED")),
    ("list_llm_context", {"project_id": "SHOP", "exclude_global": True}, None),
    ("search", {"query": "api", "project_id": "SHOP"}, None),
    ("list_work_items", {"project_id": "SHOP", "types": ["task"]}, None),
    ("list_blocked_items", {"project_id": "SHOP"}, None),
    ("get_work_item", {"display_key": "SHOP-2"}, None),
    ("get_context_pack", {"project_id": "SHOP", "budget_tokens": 2000}, None),
]  # fmt: skip


async def test_every_tool_works_and_a_subscriber_sees_each_write(server: Server) -> None:
    owner = await server.client(user="alice")
    project = await create_project(owner, "SHOP", "Web shop")
    await server.client(user="agent")  # a user exists once connected
    await owner.request(
        "add_member", commands_pb2.AddMember(project_id=project.id, user_id="agent", role=EDITOR)
    )
    await subscribe(owner, project.id)

    async with stdio_client(params(server)) as (read, write), ClientSession(read, write) as mcp:
        await mcp.initialize()
        listed = (await mcp.list_tools()).tools
        names = [tool.name for tool in listed]
        assert names == list(TOOL_COMMANDS)  # each a command of the schema
        assert {name for name, _, _ in CALLS} == set(names), "a tool the test does not call"
        # Input schemas come from the command messages.
        schema = {tool.name: tool.input_schema for tool in listed}["create_work_item"]
        assert set(schema["properties"]) == {
            f.name for f in commands_pb2.CreateWorkItem.DESCRIPTOR.fields
        }
        assert "epic" in schema["properties"]["type"]["enum"]

        outputs: dict[str, Any] = {}
        row_id = sprint_id = ""
        for name, given, effect in CALLS:
            arguments = {**given, "context_id": row_id} if "context_id" in given else given
            if "sprint_id" in given:
                arguments = {**given, "sprint_id": sprint_id}
            outputs[name] = result(await mcp.call_tool(name, arguments))
            if name == "create_llm_context":
                row_id = outputs[name]["context"]["id"]
            if name == "create_sprint":
                sprint_id = outputs[name]["sprint"]["id"]
            if effect is None:
                continue
            event = await owner.next_event(timeout=10)
            assert (event.WhichOneof("entity"), entities_pb2.Action.Name(event.action)) == effect
            assert event.actor_id == "agent"
        await owner.no_event(within=0.2)

        assert outputs["get_project"]["project"]["id"] == project.id
        assert [i["display_key"] for i in outputs["list_work_items"]["items"]] == ["SHOP-2"]
        assert [h["item"]["display_key"] for h in outputs["search"]["hits"]] == ["SHOP-2"]
        blocked = outputs["list_blocked_items"]["items"]
        assert [(b["item"]["display_key"], [x["display_key"] for x in b["blockers"]])
                for b in blocked] == [("SHOP-1", ["SHOP-2"])]  # fmt: skip
        item = outputs["get_work_item"]
        assert item["item"]["status"] == "WORK_ITEM_STATUS_IN_PROGRESS"
        assert [c["body"] for c in item["comments"]] == ["API first."]
        assert len(item["dependencies"]["outgoing"]) == 1
        assert item["activity"]
        assert [s["name"] for s in outputs["list_sprints"]["sprints"]] == ["Sprint 1"]
        assert outputs["get_sprint_report"]["sprint"]["id"] == sprint_id
        pack = outputs["get_context_pack"]
        assert pack["tokens"] <= 2000
        assert "### Card data" in pack["text"]

        # The pack tool's text is the markdown itself.
        called = await mcp.call_tool("get_context_pack", {"project_id": "SHOP"})
        assert text_of(called).startswith("# Context pack: SHOP (Web shop)")

        # Resources: the project's llm_context row, readable as markdown.
        resources = (await mcp.list_resources()).resources
        uri = f"pm://llm-context/{row_id}"
        assert uri in [str(r.uri) for r in resources]
        (contents,) = (await mcp.read_resource(uri)).contents
        assert isinstance(contents, mcp_types.TextResourceContents)
        assert "Card numbers never reach us." in contents.text


async def test_refusals_are_tool_errors_with_the_pm_code(server: Server) -> None:
    owner = await server.client(user="alice")
    project = await create_project(owner, "SHOP", "Web shop")
    await server.client(user="agent")
    await owner.request(
        "add_member", commands_pb2.AddMember(project_id=project.id, user_id="agent", role=EDITOR)
    )
    async with stdio_client(params(server)) as (read, write), ClientSession(read, write) as mcp:
        await mcp.initialize()
        created = result(await mcp.call_tool(
            "create_work_item", {"project_id": "SHOP", "type": "task", "title": "T"}
        ))  # fmt: skip
        stale = await mcp.call_tool(
            "update_work_item",
            {"item_id": created["item"]["id"], "expected_version": 7, "title": "U"},
        )
        assert stale.is_error
        assert text_of(stale).startswith("CONFLICT: ")
        assert stale.structured_content["code"] == "CONFLICT"
        assert stale.structured_content["current_version"] == "1"

        bad = await mcp.call_tool("create_work_item", {"project_id": "SHOP", "type": "saga"})
        assert bad.is_error
        assert bad.structured_content["code"] == "INVALID_MESSAGE"

        hidden = await mcp.call_tool("get_project", {"key": "NOPE"})
        assert hidden.structured_content["code"] == "NOT_FOUND"
        assert json.dumps(hidden.structured_content)


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks(language: str) -> list[str]:
    section = README.read_text().split("\n### The MCP way\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


async def test_readme_mcp_examples_run_against_a_live_server(
    server: Server, tmp_path: Path
) -> None:
    owner = await server.client(user="alice")
    project = await create_project(owner, "SHOP", "Web shop")
    await server.client(user="agent")
    await owner.request(
        "add_member", commands_pb2.AddMember(project_id=project.id, user_id="agent", role=EDITOR)
    )
    for title in ("Checkout", "Pay by card", "Card form"):
        await owner.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_TASK, title=title
            ),
        )
    await subscribe(owner, project.id)
    env = cli_env(server.ws_url, server.token(user="agent"))
    env["PATH"] = f"{pm_shim(tmp_path / 'bin')}{os.pathsep}{env['PATH']}"

    # The host configuration: its command, with the environment it names.
    (config,) = readme_blocks("json")
    entry = json.loads(config)["mcpServers"]["pm"]
    assert set(entry["env"]) == {"PM_URL", "PM_TOKEN"}
    host = StdioServerParameters(
        command=entry["command"],
        args=entry["args"],
        env=env | {"PM_URL": server.ws_url, "PM_TOKEN": env["PM_TOKEN"]},
    )
    async with stdio_client(host) as (read, write), ClientSession(read, write) as mcp:
        await mcp.initialize()
        assert "get_context_pack" in [tool.name for tool in (await mcp.list_tools()).tools]

    # The Python example, as written.
    (example,) = readme_blocks("python")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", example, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=100)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "tools: list_projects, get_project," in text
    assert "# Context pack: SHOP (Web shop)" in text
    assert text.rstrip().endswith("commented")
    event = await owner.next_event(timeout=10)
    assert (event.WhichOneof("entity"), event.comment.body) == (
        "comment",
        "Form next: the API is merged.",
    )


def test_the_readme_names_every_tool_in_order() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### The MCP way", 1)[1]
    listing = section.split("protocol names:", 1)[1].split("Each input schema", 1)[0]
    assert re.findall(r"`([a-z_]+)`", listing) == list(TOOL_COMMANDS)
