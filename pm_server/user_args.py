"""The arguments of ``pm user set-password`` (the command itself is :mod:`pm_server.user_cli`).

Apart so that building ``pm``'s parser, which every client command does, imports
neither the database layer nor argon2: :mod:`pm_server.cli` loads
:mod:`pm_server.user_cli` only when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

COMMAND: Final = "set-password"
_DESCRIPTION: Final = (
    "`set-password` (operator, on the data dir): reads the password from the terminal or "
    "stdin, ends the user's sessions"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pm user set-password`` (to the ``pm user`` group if the client made one)."""
    user = commands.choices.get("user")
    if user is None:
        user = commands.add_parser(
            "user",
            help="users of a tenant",
            description=f"users of a tenant; {_DESCRIPTION}",
        )
    else:  # the client's group: its description (README's row) names this command too
        user.description = f"{user.description}; {_DESCRIPTION}"
    sub = _subcommands(user) or user.add_subparsers(
        dest="user_command", metavar="COMMAND", required=True
    )
    p = sub.add_parser(
        COMMAND,
        help="operator: set or reset a user's sign-in password in the data dir "
        "(ends the user's sessions); the password is read from the terminal or stdin",
    )
    p.add_argument("tenant", metavar="TENANT")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--data-dir", type=Path, help="data directory (default: PM_DATA_DIR)")
    p.add_argument("--create", action="store_true", help="create the user and account if none")
    p.add_argument("--name", help="display name of a created user (default: the email)")
    p.add_argument("--admin", action="store_true", help="a created user is a tenant admin")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(operator_command=COMMAND)  # run by pm_server.cli (user_cli)


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    """The sub-command action of a parser (argparse has no public way to reach it)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None
