"""The ``pm`` command line: ``pm serve``, ``pm token``, ``pm tenant`` and the client commands.

Agents call ``pm`` many times, so each branch imports what it needs only when it
runs: a client command never loads the server, the database layer or aiohttp's
server side.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from pm_client import cli as client_cli
from pm_server import __version__, tenant_args, user_args

if TYPE_CHECKING:
    from pm_server.settings import Settings

#: Commands that create server files (not the client's, which create none).
SERVER_COMMANDS = frozenset({"serve", "token", "tenant"})
PRIVATE_UMASK = 0o077


def parser() -> argparse.ArgumentParser:
    """``pm`` and all its commands (README.md's command-line table is generated from it)."""
    parser = argparse.ArgumentParser(prog="pm", description="pm: real-time agile-board backend")
    parser.add_argument(
        "--version", action="version", version=f"pm {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the server (settings from PM_* variables)",
        description="run the server (flags override `PM_HOST` / `PM_PORT`); SIGTERM or SIGINT "
        "drains and stops it",
    )
    serve.add_argument("--host", help="override PM_HOST")
    serve.add_argument("--port", type=int, help="override PM_PORT")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port, sharing the data dir (2 or more need PM_REDIS_URL)",
    )
    # A listening socket handed over by `pm serve --workers` to each worker (internal).
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)

    token = commands.add_parser(
        "token",
        help="mint a development token signed with the data dir's key",
        description="print a development token signed with the data dir's key (`--admin`: the "
        "`tenant_admin` role; default lifetime 24 h)",
    )
    token.add_argument("--tenant", required=True, help="tenant id")
    token.add_argument("--user", required=True, help="user id (the token subject)")
    token.add_argument("--name", help="display name")
    token.add_argument("--email", help="email")
    token.add_argument("--admin", action="store_true", help="grant the tenant_admin role")
    token.add_argument("--hours", type=float, default=24.0, help="lifetime (default 24)")
    token.add_argument(
        "--link",
        action="store_true",
        help="print a link that opens the board signed in with the token (PM_PUBLIC_URL or "
        "http://PM_HOST:PM_PORT, then /#token=...)",
    )

    tenant_args.register(commands)
    client_cli.register(commands)
    user_args.register(commands)  # after the client's: it joins their ``pm user`` group
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in SERVER_COMMANDS:
        # Everything these create (the data dir, tenant folders, databases and their WAL,
        # backups, exports, the signing key) is the operator's alone: 0600 files in 0700
        # folders, whoever runs them and whatever umask the shell had.
        os.umask(PRIVATE_UMASK)
    if args.command == "serve":
        from pm_server.serving import serve_command  # noqa: PLC0415 - see module docstring

        return serve_command(args)
    if args.command == "token":
        return _token(args)
    if args.command == "tenant":
        from pm_server import tenant_cli  # noqa: PLC0415 - see module docstring

        settings = _settings("pm tenant")
        return 2 if settings is None else tenant_cli.run(args, settings)
    if getattr(args, "operator_command", None) is not None:  # pm user set-password
        from pm_server import user_cli  # noqa: PLC0415 - see module docstring

        # On the data dir, not a server: it may create the database's WAL, the operator's alone.
        os.umask(PRIVATE_UMASK)
        settings = _settings("pm user set-password")
        return 2 if settings is None else user_cli.run(args, settings)
    return client_cli.run(args)


def _settings(prog: str) -> Settings | None:
    """The settings, or None once a configuration error was printed in one line."""
    from pm_server.settings import SettingsError, load  # noqa: PLC0415 - see module docstring

    try:
        return load()
    except SettingsError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def _token(args: argparse.Namespace) -> int:
    from pm_auth.tokens import load_or_create_signing_key, mint_token  # noqa: PLC0415

    settings = _settings("pm token")
    if settings is None:
        return 2
    key = load_or_create_signing_key(settings.data_dir)
    try:
        value = mint_token(
            key,
            tenant_id=args.tenant,
            user_id=args.user,
            name=args.name,
            email=args.email,
            tenant_admin=args.admin,
            lifetime=timedelta(hours=args.hours),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except ValueError as exc:
        print(f"pm token: {exc}", file=sys.stderr)
        return 2
    # The fragment never reaches a server (nor its logs); the board reads the token from it.
    print(f"{settings.base_url}/#token={value}" if args.link else value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
