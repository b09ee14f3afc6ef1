"""``pm mcp``: a Model Context Protocol server over stdio, built on one PmClient.

The connection is the command line's (``PM_URL``, and ``PM_TOKEN`` holding a
token or an API key ``pmk....``): every tool call is a command sent over it
as that user, with that user's rights. Tools are :mod:`pm_client.mcp.tools`.
Resources are the ``llm_context`` rows the user can read: the tenant-wide
ones and those of ``PM_PROJECT`` (every project the user belongs to when it
is not set), each at ``pm://llm-context/<id>`` as markdown.

stdout carries the protocol only: logs go to stderr.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import mcp.types as mcp_types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from pm_client.client import PmClient
from pm_client.mcp import schemas
from pm_client.mcp.tools import Tool, ToolError, call, tools
from pm_core.keys import is_project_key
from pm_proto.v1 import entities_pb2

log = logging.getLogger(__name__)

URI_PREFIX: Final = "pm://llm-context/"
#: The server's largest page of llm_context rows.
MAX_ROWS: Final = 500
INSTRUCTIONS: Final = (
    "pm is a project board (epics > stories > tasks, sprints, dependencies, timers). Start with "
    "get_context_pack for a project: it gives the board's rules, its llm_context and the open "
    "items most relevant first. Name projects by key (SHOP) and items by display key (SHOP-12). "
    "Writes take the version you read; a CONFLICT error means: read again and retry."
)


class PmMcp:
    """The MCP handlers, over one connected client."""

    def __init__(self, pm: PmClient, project: str | None) -> None:
        self.pm = pm
        self.project = project
        self.tools: dict[str, Tool] = {tool.name: tool for tool in tools()}

    def server(self) -> Server[Any]:
        return Server(
            "pm",
            version="1",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_read_resource=self.read_resource,
        )

    async def list_tools(
        self, ctx: Any, params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(
            tools=[
                mcp_types.Tool(
                    name=tool.name, description=tool.description, input_schema=tool.input_schema
                )
                for tool in self.tools.values()
            ]
        )

    async def call_tool(
        self, ctx: Any, params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        tool = self.tools.get(params.name)
        if tool is None:
            return _error("INVALID_MESSAGE", f"no tool {params.name!r}", {})
        try:
            data = await call(self.pm, tool, params.arguments or {})
        except ToolError as exc:
            return _error(exc.code, exc.message, exc.details)
        text = data["text"] if tool.name == "get_context_pack" else json.dumps(data, indent=1)
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(text=text)], structured_content=data
        )

    async def _rows(self) -> list[tuple[entities_pb2.LlmContext, str]]:
        """(row, scope) of every llm_context row the resources show."""
        projects = []
        if self.project:
            reply = await self.pm.get_project(**_project_ref(self.project))
            projects = [reply.project]
        else:
            projects = list((await self.pm.list_projects()).projects)
        rows = [
            (row, "tenant") for row in (await self.pm.list_llm_context(limit=MAX_ROWS)).contexts
        ]
        for project in projects:
            listed = await self.pm.list_llm_context(
                project_id=project.id, exclude_global=True, limit=MAX_ROWS
            )
            rows += [(row, project.key) for row in listed.contexts]
        return rows

    async def list_resources(
        self, ctx: Any, params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListResourcesResult:
        return mcp_types.ListResourcesResult(
            resources=[
                mcp_types.Resource(
                    uri=f"{URI_PREFIX}{row.id}",
                    name=row.title,
                    description=f"{_type(row)} llm_context of {scope}",
                    mime_type="text/markdown",
                )
                for row, scope in await self._rows()
            ]
        )

    async def read_resource(
        self, ctx: Any, params: mcp_types.ReadResourceRequestParams
    ) -> mcp_types.ReadResourceResult:
        uri = str(params.uri)
        for row, scope in await self._rows():
            if uri == f"{URI_PREFIX}{row.id}":
                text = f"# {row.title}\n\n_{_type(row)}, {scope}, priority {row.priority}_\n\n"
                return mcp_types.ReadResourceResult(
                    contents=[
                        mcp_types.TextResourceContents(
                            uri=uri, mime_type="text/markdown", text=text + row.content
                        )
                    ]
                )
        raise ValueError(f"no llm_context row at {uri}")


def _type(row: entities_pb2.LlmContext) -> str:
    name: str = entities_pb2.LlmContextType.Name(row.context_type)
    return name.removeprefix(schemas.enum_prefix(entities_pb2.LlmContextType.DESCRIPTOR)).lower()


def _project_ref(ref: str) -> dict[str, str]:
    return {"key": ref.upper()} if is_project_key(ref.upper()) else {"project_id": ref}


def _error(code: str, message: str, details: dict[str, Any]) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text=f"{code}: {message}")],
        structured_content={"code": code, "message": message, **details},
        is_error=True,
    )


async def serve_stdio(pm: PmClient, project: str | None) -> None:
    """Serve MCP on this process's stdin and stdout until the client closes stdin."""
    server = PmMcp(pm, project).server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
