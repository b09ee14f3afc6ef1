"""README.md's command-line table, from the ``pm`` parser itself.

A row per top-level command, in the order ``pm --help`` lists them: the
command with its arguments (for a group, each sub-command with its own), and
the parser's description. A sub-command shows its positional arguments, its
required options and its switches; a command without sub-commands shows every
option. Options that (nearly) every command takes are described once, in the
prose under the table, and left out of the rows; ``pm COMMAND --help`` lists
them all.
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_server.cli import parser as pm_parser
from tools.docs.blocks import DocError, cell, table

#: Options described once under the table instead of in every row (by dest).
SHARED: Final = frozenset(
    {"help", "json", "url", "token", "timeout", "verbose", "project", "expected_version", "quiet"}
    | {"request_id"}
    | {"data_dir"}
)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _metavar(action: argparse.Action) -> str:
    if isinstance(action.metavar, tuple):
        return " ".join(action.metavar)
    if action.metavar is not None:
        return action.metavar
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return "|".join(str(choice) for choice in action.choices)
    return action.dest.upper()


def _argument(action: argparse.Action) -> str:
    if not action.option_strings:
        name = _metavar(action)
        if action.nargs == "?":
            return f"[{name}]"
        if action.nargs in ("*", "+"):
            return f"[{name} ...]" if action.nargs == "*" else name
        return name
    flag = max(action.option_strings, key=len)
    shown = flag if action.nargs == 0 else f"{flag} {_metavar(action)}"
    return shown if action.required else f"[{shown}]"


def usage(parser: argparse.ArgumentParser, *, every_option: bool) -> str:
    """The arguments of one command, as the table shows them."""
    shown = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue  # a hidden option is pm's own business (``--listen-fd``)
        if action.option_strings and action.dest in SHARED:
            continue
        if action.option_strings and not (every_option or action.required or action.nargs == 0):
            continue
        shown.append(_argument(action))
    return " ".join(shown)


def _code(*parts: str) -> str:
    return "`" + " ".join(part for part in parts if part) + "`"


def command_rows(root: argparse.ArgumentParser) -> list[tuple[str, str]]:
    rows = []
    for name, command in _subcommands(root).items():
        if not command.description:
            raise DocError(
                f"`pm {name}` has no description (its parser's description= is the README "
                "row): give it one where it is registered"
            )
        subs = _subcommands(command)
        if subs:
            calls = [
                _code(*(["pm", name] if number == 0 else []), sub, usage(p, every_option=False))
                for number, (sub, p) in enumerate(subs.items())
            ]
        else:
            calls = [_code("pm", name, usage(command, every_option=True))]
        rows.append((cell(" · ".join(calls)), cell(command.description)))
    for action in root._actions:
        if isinstance(action, argparse._VersionAction):
            rows.append((_code("pm", max(action.option_strings, key=len)), cell(action.help or "")))
    return rows


def command_line_table() -> str:
    note = (
        "<!-- From the parsers of pm_server/cli.py and pm_client/cli/ by make docs: "
        "edit their descriptions, not this table. -->"
    )
    return note + "\n\n" + table(("command", "what it does"), command_rows(pm_parser()))
