"""How a client command runs: parse, connect, call the group's handler, print, exit.

Each group module (``projects``, ``items``, ...) adds its sub-commands with
``register(commands, common)`` and sets ``handler`` on each leaf parser: an
async function ``(session, args) -> Output | None``. :func:`run` connects one
:class:`~pm_client.client.PmClient`, awaits the handler, prints its output
(``--json``: the JSON document; otherwise the text) and maps any failure to one
line on stderr and the exit code of its class (:mod:`pm_client.cli.exits`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Final

from pm_client.cli import (
    activity,
    comments,
    context,
    deps,
    items,
    lanes,
    projects,
    sprints,
    timers,
    watch,
)
from pm_client.cli.exits import FAILED, OK, describe, exit_code
from pm_client.cli.output import Output, dumps
from pm_client.cli.session import DEFAULT_URL, Session, connection_settings
from pm_client.client import PmClient

Handler = Callable[[Session, argparse.Namespace], Awaitable[Output | None]]

#: Group modules, in the order ``pm --help`` lists them.
GROUPS: Final = (projects, items, sprints, comments, timers, deps, lanes, activity, context, watch)

#: Top-level ``pm`` commands this package handles.
COMMANDS: Final[frozenset[str]] = frozenset(
    {
        "project",
        "member",
        "item",
        "sprint",
        "comment",
        "timer",
        "time",
        "dep",
        "lane",
        "activity",
        "context",
        "watch",
    }
)

EXIT_INTERRUPTED: Final = 130
#: Longest pause between reconnect attempts (``pm watch`` across a server restart).
MAX_BACKOFF: Final = 2.0


def common_options() -> argparse.ArgumentParser:
    """The options every client command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout (for programs)"
    )
    group = common.add_argument_group("connection")
    group.add_argument("--url", help=f"server WebSocket URL (default: PM_URL or {DEFAULT_URL})")
    group.add_argument("--token", help="bearer token (default: PM_TOKEN; prefer the variable)")
    group.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for each reply (default 10)",
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log connection details to stderr"
    )
    return common


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands to ``pm``'s sub-command parser."""
    common = common_options()
    for group in GROUPS:
        group.register(commands, common)


def run(args: argparse.Namespace) -> int:
    """Run a client command; returns the process exit code."""
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        print(f"pm: unknown command {args.command}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="pm: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return asyncio.run(_run(handler, args))
    except KeyboardInterrupt:
        print("pm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


async def _run(handler: Handler, args: argparse.Namespace) -> int:
    try:
        settings = connection_settings(args)
        async with PmClient(
            settings.url, settings.token, request_timeout=settings.timeout, max_backoff=MAX_BACKOFF
        ) as pm:
            output = await handler(Session(pm, settings, json=args.json), args)
        if output is not None:
            _print(output, as_json=args.json)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        _silence_stdout()
        return OK
    except Exception as exc:
        code = exit_code(exc)
        print(f"pm: {describe(exc)}", file=sys.stderr)
        if code == FAILED and args.verbose:
            logging.getLogger(__name__).exception("unexpected failure")
        return code
    return OK


def _print(output: Output, *, as_json: bool) -> None:
    if as_json:
        print(dumps(output.data))
    elif output.text:
        print(output.text)
    sys.stdout.flush()


def _silence_stdout() -> None:
    """After EPIPE, make the interpreter's final flush of stdout a no-op."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
