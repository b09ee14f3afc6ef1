"""The arguments of ``pm tenant ...`` (the commands themselves are :mod:`pm_server.tenant_cli`).

Apart so that building ``pm``'s parser, which every client command does, imports
neither the database layer nor the server: :mod:`pm_server.cli` loads
:mod:`pm_server.tenant_cli` only when a ``pm tenant`` command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final, NoReturn

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_CONFLICT: Final = 4
EXIT_INVALID_FILE: Final = 5
EXIT_BUSY: Final = 6

#: Seconds ``restore`` and ``delete`` wait for running servers to let go of the tenant.
DEFAULT_WAIT_SECONDS: Final = 30.0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit 2), like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pm tenant`` to ``pm``'s sub-command parser."""
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data directory (default: PM_DATA_DIR)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    tenant = commands.add_parser(
        "tenant",
        help="administer tenant databases: list, backup, restore, export, import, delete, check",
        description="tenant databases in the data dir (`--data-dir` / `PM_DATA_DIR`): online "
        "backup and export; restore and delete while the server runs (it lets go of that "
        "tenant meanwhile); see docs/operations.md",
    )
    sub = tenant.add_subparsers(
        dest="tenant_command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    sub.add_parser(
        "list", parents=[common], help="tenants on disk: size, schema version, open or not"
    )

    create = sub.add_parser(
        "create",
        parents=[common],
        help="create a tenant and invite its first admin (prints a one-time invitation link)",
    )
    create.add_argument("tenant", metavar="TENANT")
    create.add_argument("--admin-email", required=True, metavar="EMAIL")
    create.add_argument("--admin-name", metavar="NAME", help="default: the email's local part")

    backup = sub.add_parser(
        "backup", parents=[common], help="online backup of one tenant into one SQLite file"
    )
    backup.add_argument("tenant", metavar="TENANT")
    backup.add_argument("file", metavar="FILE", type=Path)
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    restore = sub.add_parser(
        "restore",
        parents=[common],
        help="replace a tenant with a backup (the tenant gets a new epoch); "
        "a running server lets go of the tenant meanwhile",
    )
    restore.add_argument("tenant", metavar="TENANT")
    restore.add_argument("file", metavar="FILE", type=Path)
    _add_wait(restore)
    restore.add_argument("--yes", action="store_true", help="replace an existing tenant")

    exporter = sub.add_parser(
        "export", parents=[common], help="write a tenant as versioned JSON (FILE - : stdout)"
    )
    exporter.add_argument("tenant", metavar="TENANT")
    exporter.add_argument("file", metavar="FILE")
    exporter.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    importer = sub.add_parser(
        "import", parents=[common], help="create a new tenant from an export (FILE - : stdin)"
    )
    importer.add_argument("tenant", metavar="TENANT")
    importer.add_argument("file", metavar="FILE")

    delete = sub.add_parser(
        "delete",
        parents=[common],
        help="remove a tenant's database and folder; a running server lets go of it first",
    )
    delete.add_argument("tenant", metavar="TENANT")
    delete.add_argument("--yes", action="store_true", help="really delete (required)")
    _add_wait(delete)
    migrate = sub.add_parser(
        "migrate",
        parents=[common],
        help="apply pending schema migrations ahead of time (one tenant, or --all); "
        "a tenant a server has open is skipped (that server migrated it)",
    )
    which = migrate.add_mutually_exclusive_group(required=True)
    which.add_argument("tenant", metavar="TENANT", nargs="?")
    which.add_argument("--all", action="store_true", help="every tenant in the data dir")
    check = sub.add_parser(
        "check",
        parents=[common],
        help="SQLite's integrity check of a tenant's database (read-only, safe while serving)",
    )
    check.add_argument("tenant", metavar="TENANT")


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long a running server may take to let go of the tenant "
        f"(default {DEFAULT_WAIT_SECONDS:g}; 0: refuse at once if it has it open)",
    )
