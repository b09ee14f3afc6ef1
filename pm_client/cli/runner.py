"""How a client command runs: parse, connect, call the group's handler, print, exit.

The groups are found, not listed: every module of this package with a
``register(commands, common)`` function adds its sub-commands, and every entity
of the registry with a create command that no module takes over (a module's
``ENTITY``) gets a generated group (:mod:`pm_client.cli.crud`). Each leaf
parser has a ``handler``: an async function ``(session, args) -> Output | None``.
:func:`run` connects one :class:`~pm_client.client.PmClient`, awaits the
handler, prints its output (``--json``: the JSON document; otherwise the text)
and maps any failure to one line on stderr and the exit code of its class
(:mod:`pm_client.cli.exits`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import itertools
import logging
import os
import pkgutil
import sys
from collections.abc import Awaitable, Callable, Iterator
from types import ModuleType
from typing import Final

from pm_client.cli import crud
from pm_client.cli.exits import FAILED, OK, UsageError, describe, exit_code
from pm_client.cli.options import Subcommands
from pm_client.cli.output import Output, dumps
from pm_client.cli.session import DEFAULT_URL, Session, connection_settings
from pm_client.client import PmClient
from pm_core.registry import ENTITIES, EntitySpec

Handler = Callable[[Session, argparse.Namespace], Awaitable[Output | None]]
Register = Callable[[Subcommands, argparse.ArgumentParser], None]


def group_modules() -> list[ModuleType]:
    """The modules of this package that add commands: ``register(commands, common)``."""
    package = importlib.import_module("pm_client.cli")
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"pm_client.cli.{info.name}")
        register_ = getattr(module, "register", None)
        if callable(register_) and list(inspect.signature(register_).parameters) == [
            "commands",
            "common",
        ]:
            found.append(module)
    return found


def groups() -> list[Register]:
    """What adds each group, in the order ``pm --help`` lists them: the entities' groups
    in the registry's order (a module's own, else a generated one), then the others."""
    order = {spec.entity_type: number for number, spec in enumerate(ENTITIES)}
    keyed: list[tuple[tuple[int, str], Register]] = []
    taken = set()
    for module in group_modules():
        entity = getattr(module, "ENTITY", None)
        taken.add(entity)
        place = order[entity] if entity in order else len(order)
        keyed.append(((place, module.__name__), module.register))
    for spec in crud.generated_entities():
        if spec.entity_type not in taken:
            keyed.append(((order[spec.entity_type], spec.name), _generated(spec)))
    return [register_ for _, register_ in sorted(keyed, key=lambda pair: pair[0])]


def _generated(spec: EntitySpec) -> Register:
    def register_(commands: Subcommands, common: argparse.ArgumentParser) -> None:
        crud.register_entity(commands, common, spec)

    return register_


EXIT_INTERRUPTED: Final = 130
#: The longest ``--request-id`` (the protocol takes 128 characters; ``.N`` is added).
MAX_REQUEST_ID: Final = 120
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
        "--request-id",
        metavar="ID",
        help="send this command's requests as ID, ID.2, ID.3, ...: run the same command "
        "again with the same ID after a failure and its writes are applied once",
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log connection details to stderr"
    )
    return common


def register(commands: Subcommands) -> None:
    """Add the client commands to ``pm``'s sub-command parser, in the order ``pm --help`` lists."""
    common = common_options()
    for register_ in groups():
        register_(commands, common)


def _registered() -> frozenset[str]:
    commands = argparse.ArgumentParser().add_subparsers()
    register(commands)
    return frozenset(commands.choices)


#: Top-level ``pm`` commands this package handles.
COMMANDS: Final[frozenset[str]] = _registered()


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
            if args.request_id is not None:
                pm.request_ids = numbered(args.request_id)
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


def numbered(request_id: str) -> Iterator[str]:
    """``ID``, ``ID.2``, ``ID.3``, ...: the same ids, in the same order, on every run."""
    if not 1 <= len(request_id) <= MAX_REQUEST_ID or not request_id.isprintable():
        raise UsageError(f"--request-id takes 1-{MAX_REQUEST_ID} printable characters")
    later = (f"{request_id}.{number}" for number in itertools.count(2))
    return itertools.chain([request_id], later)


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
