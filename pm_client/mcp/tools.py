"""The MCP tools of ``pm mcp``: which commands an agent gets, and how a call runs.

A tool is a command of the protocol under the command's own name: its input
schema and description come from the command's descriptor and comment
(:mod:`pm_client.mcp.schemas`), its arguments are parsed into the command
message and sent through :class:`~pm_client.client.PmClient`, and its result
is the reply as JSON. Two conveniences an agent would otherwise write itself:
a project may be named by key (``SHOP``) and an item by display key
(``SHOP-12``) wherever the command takes their id, and ``get_work_item`` also
returns the item's comments, dependencies and activity. A refusal comes back
as a tool error carrying the pm error code and message (and its field, rule,
current version... as structured content).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf.descriptor import Descriptor
from google.protobuf.json_format import ParseError
from google.protobuf.message import Message

from pm_client.client import PmClient
from pm_client.commands import COMMANDS, Command
from pm_client.errors import ServerError
from pm_client.mcp import schemas
from pm_core.errors import ValidationError
from pm_core.keys import is_project_key, parse_display_key
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2

Json = dict[str, Any]

#: The commands an agent works with, in the order tools are listed (``search`` finds items
#: by words, ``list_work_items`` by its filters).
TOOL_COMMANDS: Final = (
    "list_projects",
    "get_project",
    "search",
    "list_work_items",
    "get_work_item",
    "create_work_item",
    "update_work_item",
    "create_comment",
    "watch_work_item",
    "list_notifications",
    "create_dependency",
    "list_blocked_items",
    "list_sprints",
    "create_sprint",
    "get_sprint_report",
    "start_timer",
    "stop_timer",
    "create_time_entry",
    "list_llm_context",
    "create_llm_context",
    "update_llm_context",
    "get_context_pack",
)
#: Fields that take a project: its id, or its key.
PROJECT_FIELDS: Final = frozenset({"project_id"})
#: Fields that take a work item: its id, or its display key.
ITEM_FIELDS: Final = frozenset(
    {"item_id", "work_item_id", "parent_id", "from_item_id", "to_item_id"}
)
HINTS: Final = {
    **dict.fromkeys(PROJECT_FIELDS, "the project's id or key (e.g. SHOP)"),
    **dict.fromkeys(ITEM_FIELDS, "the item's id or display key (e.g. SHOP-12)"),
    "expected_version": "the version you read; a stale one is refused with CONFLICT",
}
WITH_DETAILS: Final = (
    " The MCP tool also returns the item's comments, its dependencies (outgoing and incoming) "
    "and its latest activity."
)


#: The ``ClientMessage.command`` fields, whose message descriptors the schemas read.
_COMMAND_FIELDS: Final = envelope_pb2.ClientMessage.DESCRIPTOR.fields_by_name


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    command: Command
    descriptor: Descriptor
    description: str
    input_schema: Json


def tools() -> list[Tool]:
    """The tools: the commands of TOOL_COMMANDS this client's schema has (all of them, which
    tests/pm_client/test_mcp_functional.py checks)."""
    found = []
    for name in TOOL_COMMANDS:
        command = COMMANDS.get(name)
        if command is None:
            continue
        descriptor = _COMMAND_FIELDS[name].message_type
        assert descriptor is not None  # a command is a message (pm_client.commands)
        description = schemas.describe(descriptor)
        if name == "get_work_item":
            description += WITH_DETAILS
        schema = schemas.message_schema(descriptor, HINTS)
        found.append(Tool(name, command, descriptor, description, schema))
    return found


class ToolError(Exception):
    """A call refused: ``code`` is the pm error code, ``details`` its structured fields."""

    def __init__(self, code: str, message: str, details: Json | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = {"code": code, "message": message, **(details or {})}


def _error_details(error: envelope_pb2.Error) -> Json:
    data = schemas.to_json(error)
    return {k: v for k, v in data.items() if v not in ("", 0, [], False) and k != "request_id"}


async def _resolve(pm: PmClient, arguments: Mapping[str, Any]) -> Json:
    """``arguments`` with project keys and item display keys replaced by ids."""
    out = dict(arguments)
    for name, value in arguments.items():
        if not isinstance(value, str):
            continue
        if name in PROJECT_FIELDS and is_project_key(value.upper()):
            out[name] = (await pm.get_project(key=value.upper())).project.id
        elif name in ITEM_FIELDS and _is_display_key(value):
            out[name] = (await pm.get_work_item(display_key=value.upper())).item.id
    return out


def _is_display_key(value: str) -> bool:
    try:
        parse_display_key(value)
    except ValidationError:
        return False
    return True


async def call(pm: PmClient, tool: Tool, arguments: Mapping[str, Any]) -> Json:
    """Run one tool call; ToolError when pm refuses it or the arguments do not fit."""
    try:
        arguments = await _resolve(pm, arguments)
        message = schemas.to_message(tool.command.message, tool.descriptor, arguments)
        result: Message = await pm.call(message)
        data = schemas.to_json(result)
        if tool.name == "get_work_item":
            assert isinstance(result, commands_pb2.WorkItemReply)
            data |= await _details(pm, result.item.id)
    except ServerError as exc:
        raise ToolError(exc.code, exc.message, _error_details(exc.error)) from exc
    except ParseError as exc:
        raise ToolError("INVALID_MESSAGE", f"the arguments do not fit {tool.name}: {exc}") from exc
    return data


async def _details(pm: PmClient, item_id: str) -> Json:
    comments = await pm.list_comments(work_item_id=item_id)
    dependencies = await pm.list_dependencies(item_id=item_id)
    activity = await pm.list_activity(
        entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id=item_id)
    )
    return {
        "comments": schemas.to_json(comments)["comments"],
        "dependencies": {
            "outgoing": schemas.to_json(dependencies)["outgoing"],
            "incoming": schemas.to_json(dependencies)["incoming"],
        },
        "activity": schemas.to_json(activity)["entries"],
    }
