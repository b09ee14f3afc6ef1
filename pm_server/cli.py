"""The ``pm`` command line: ``pm serve`` and ``pm token``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_client import cli as client_cli
from pm_server import __version__, tenant_cli
from pm_server.app import create_app
from pm_server.settings import Settings
from pm_server.state import STATE

log = logging.getLogger("pm_server")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pm", description="pm: real-time agile-board backend")
    parser.add_argument("--version", action="version", version=f"pm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server (settings from PM_* variables)")
    serve.add_argument("--host", help="override PM_HOST")
    serve.add_argument("--port", type=int, help="override PM_PORT")

    token = commands.add_parser(
        "token", help="mint a development token signed with the data dir's key"
    )
    token.add_argument("--tenant", required=True, help="tenant id")
    token.add_argument("--user", required=True, help="user id (the token subject)")
    token.add_argument("--name", help="display name")
    token.add_argument("--email", help="email")
    token.add_argument("--admin", action="store_true", help="grant the tenant_admin role")
    token.add_argument("--hours", type=float, default=24.0, help="lifetime (default 24)")

    tenant_cli.register(commands)
    client_cli.register(commands)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "token":
        return _token(args)
    if args.command == "tenant":
        return tenant_cli.run(args, Settings())
    return client_cli.run(args)


def _token(args: argparse.Namespace) -> int:
    settings = Settings()
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
        )
    except ValueError as exc:
        print(f"pm token: {exc}", file=sys.stderr)
        return 2
    print(value)
    return 0


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_event_loop(serve(settings))
    return 0


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when it is installed (faster I/O), else on asyncio's loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional: its absence is a supported setup
    except ImportError:
        log.info("event loop: asyncio")
        asyncio.run(main)
    else:
        log.info("event loop: uvloop")
        uvloop.run(main)


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then drain: /readyz turns 503, new connections
    are refused, in-flight commands finish, sockets close with GOING_AWAY, tenants close."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info(
        "pm %s serving on http://%s:%d data_dir=%s",
        __version__,
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("shutting down")
        await app[STATE].drain(settings.shutdown_grace_seconds, settings.drain_delay_seconds)
    finally:
        await runner.cleanup()
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
