"""Options several client commands share, and argument types for enum names."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias

from google.protobuf.descriptor import EnumDescriptor

from pm_client.cli.output import enum_choices, enum_value

if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction


def enum_arg(descriptor: EnumDescriptor) -> Callable[[str], int]:
    """An argparse ``type`` that takes an enum's short name (``in_progress``)."""

    def parse(text: str) -> int:
        try:
            return enum_value(descriptor, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = descriptor.name
    return parse


def choices(descriptor: EnumDescriptor) -> str:
    """``a|b|c``: the short names of an enum, for help texts."""
    return "|".join(enum_choices(descriptor))


def add_project(parser: argparse.ArgumentParser, help_text: str = "the project") -> None:
    parser.add_argument(
        "--project", "-p", metavar="KEY", help=f"{help_text}: key or id (default: PM_PROJECT)"
    )


def add_filter(
    parser: argparse.ArgumentParser, *flags: str, dest: str, descriptor: EnumDescriptor
) -> None:
    """A repeatable enum option whose values collect in a list (``--status todo -s done``)."""
    parser.add_argument(
        *flags,
        dest=dest,
        action="append",
        type=enum_arg(descriptor),
        default=[],
        help=f"{choices(descriptor)} (repeatable)",
    )


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        dest="expected_version",
        type=int,
        default=0,
        metavar="N",
        help="the version you last saw: CONFLICT if it changed since (default: no check)",
    )


def add_quiet(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help=f"print only the new {what} (for scripts)"
    )


def group(
    commands: Subcommands,
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    *,
    description: str = "",
) -> Callable[..., argparse.ArgumentParser]:
    """Add ``pm NAME`` and return a function that adds its sub-commands.

    ``help_text`` is its line in ``pm --help``; ``description`` (default: the
    same) heads ``pm NAME --help`` and is its row in README.md's command table.
    The returned ``add(sub_name, handler, help)`` gives every sub-command the
    common options and sets its handler.
    """
    parser = commands.add_parser(name, help=help_text, description=description or help_text)
    sub = parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    def add(sub_name: str, handler: object, help_text: str) -> argparse.ArgumentParser:
        leaf = sub.add_parser(sub_name, parents=[common], help=help_text, description=help_text)
        leaf.set_defaults(handler=handler)
        return leaf

    return add


# -- times and durations ---------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def looks_like_id(text: str) -> bool:
    """Whether ``text`` is a row id (a UUID) rather than a name."""
    return _UUID.fullmatch(text.strip()) is not None


def parse_time(text: str) -> datetime:
    """``now``, ``today``, ``2026-03-01`` or ``2026-03-01T09:30[+02:00]``.

    A time without an offset is local time; the result is aware.
    """
    value = text.strip().lower()
    now = datetime.now().astimezone()
    if value == "now":
        return now
    if value == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use now, today, 2026-03-01 or 2026-03-01T09:30"
        ) from None
    return parsed.astimezone() if parsed.tzinfo is None else parsed


def parse_duration(text: str) -> timedelta:
    """``90m``, ``1h30m``, ``1.5h``, ``45`` (minutes), ``30s``."""
    value = text.strip().lower().replace(" ", "")
    total = 0.0
    pos = 0
    while pos < len(value):
        match = _DURATION.match(value, pos)
        if match is None or match.end() == pos:
            break
        amount, unit = float(match.group(1)), match.group(2) or "m"
        total += amount * {"h": 3600, "m": 60, "s": 1}[unit]
        pos = match.end()
    if not value or pos != len(value) or total <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use 45m, 1h30m, 1.5h or 30s")
    return timedelta(seconds=total)
