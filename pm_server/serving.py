"""``pm serve``: run the server until SIGTERM or SIGINT, then drain and stop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from pm_auth.keys import KeyFileError
from pm_server import __version__
from pm_server.app import build_verifier, create_app
from pm_server.settings import Settings
from pm_server.state import STATE

log = logging.getLogger("pm_server")


def serve_command(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        build_verifier(settings)  # a bad key file or JWT setting: one line, exit 2
    except (ValueError, KeyFileError) as exc:
        print(f"pm serve: {exc}", file=sys.stderr)
        return 2
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
    # The address actually bound: with PM_PORT=0 the port the system chose, which this line
    # is the only place to learn (the tests start servers that way, so no two ever race
    # for a port).
    host, port = runner.addresses[0][:2]
    log.info(
        "pm %s serving on http://%s:%d data_dir=%s",
        __version__,
        host,
        port,
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
