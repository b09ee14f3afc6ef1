"""``pm mcp``: the board for an agent's host, as a Model Context Protocol server on stdio.

The host starts ``pm mcp`` with ``PM_URL`` and ``PM_TOKEN`` (a token, or an
API key from ``pm apikey create``) in its environment and speaks MCP on the
process's stdin and stdout until it closes stdin; :mod:`pm_client.mcp` is the
server. The MCP SDK (and all it imports) is loaded only when this command runs, not by
every ``pm`` command.
"""

from __future__ import annotations

import argparse

from pm_client.cli.exits import UsageError
from pm_client.cli.options import Subcommands, add_project
from pm_client.cli.session import Session, default_project


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    description = (
        "a Model Context Protocol server on stdio for agents' hosts: the board's commands as "
        "tools, llm_context rows as resources (see For agents below)"
    )
    p = commands.add_parser("mcp", parents=[common], help=description, description=description)
    add_project(p, "whose llm_context rows are resources besides the tenant's (default: all)")
    p.set_defaults(handler=serve)


async def serve(s: Session, args: argparse.Namespace) -> None:
    try:
        from pm_client.mcp.server import serve_stdio  # noqa: PLC0415 - see module docstring
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("mcp"):
            raise
        raise UsageError("pm mcp needs the MCP SDK: pip install 'pm-boards[mcp]'") from exc
    await serve_stdio(s.pm, args.project or default_project())
