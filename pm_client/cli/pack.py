"""``pm context pack``: everything an agent needs to start work on a project, in one command.

The server builds the pack (``get_context_pack``, protocol.md) within a token
budget: the board's rules as commands, the project's and tenant's
``llm_context`` rows, the active sprint, the open items most relevant first,
and what was left out. This prints its markdown, or with ``--json`` (or
``--format json``) the whole reply: ``text``, ``tokens``, ``item_keys``,
``left_out``, ``seq``...
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from pm_client.cli.options import add_project
from pm_client.cli.output import Output, dumps, to_json
from pm_client.cli.session import Session


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("pack", build, "everything an agent needs to work on a project, within a budget")
    add_project(p)
    p.add_argument(
        "--budget",
        type=int,
        default=0,
        metavar="TOKENS",
        help="at most this many tokens, counted as characters / 4 (default 8000; 1000-200000)",
    )
    p.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="markdown (default) or json (same as --json)",
    )


async def build(s: Session, args: argparse.Namespace) -> Output:
    project = await s.project(args.project)
    pack = await s.pm.get_context_pack(project_id=project.id, budget_tokens=args.budget)
    data = to_json(pack)
    if args.format == "json" and not args.json:
        return Output(data, dumps(data))
    return Output(data, pack.text.rstrip())
