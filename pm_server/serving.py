"""``pm serve``: run the server until SIGTERM or SIGINT, then drain and stop.

A configuration the server cannot start with (a setting out of range, a key
file that does not load, a port already in use) is one line on stderr and
exit code 2, never a traceback. An unknown ``PM_*`` variable (a misspelt
setting would otherwise be silently unused) is a warning naming it and the
setting it probably meant; the server still starts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from pm_auth.keys import KeyFileError
from pm_server import __version__, logs
from pm_server.app import build_verifier, create_app
from pm_server.listener import GuardedSite, make_runner
from pm_server.settings import Settings, SettingsError, load, unknown_variables
from pm_server.state import STATE

log = logging.getLogger("pm_server")


class ListenError(OSError):
    """The address cannot be listened on (in use, not ours, not an address)."""


def serve_command(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = load(**overrides)
    except SettingsError as exc:
        print(f"pm serve: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    for name, meant in unknown_variables():
        hint = f" (did you mean {meant}?)" if meant else ""
        log.warning("unknown setting %s is ignored%s", name, hint)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        mode = settings.data_dir.stat().st_mode & 0o777
        if mode & 0o077:  # made before pm did, or by hand: pm does not change it
            log.warning(
                "data dir %s is open to other users (mode %04o): chmod 700 it",
                settings.data_dir.resolve(),
                mode,
            )
        build_verifier(settings)  # a bad key file or JWT setting: one line, exit 2
    except (ValueError, KeyFileError, OSError) as exc:
        print(f"pm serve: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("pm serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1:
        from pm_server import workers  # noqa: PLC0415 - the parent serves nothing itself

        return workers.run(settings, args.workers)
    try:
        run_event_loop(serve(settings, args.listen_fd))
    except ListenError as exc:
        print(f"pm serve: {exc}", file=sys.stderr)
        return 2
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


async def serve(settings: Settings, listen_fd: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then drain: /readyz turns 503, new connections
    are refused, in-flight commands finish, sockets close with GOING_AWAY, tenants close.

    ``listen_fd``: a listening socket handed over by ``pm serve --workers`` (shared by
    the workers). In a cluster, a second listener of this process alone is where other
    processes relay connections to, and ``SIGUSR1`` drains the node's tenants."""
    app = create_app(settings)
    runner = make_runner(app, settings)
    await runner.setup()
    state = app[STATE]
    refused = state.metrics.connections_refused

    def site(host: str, port: int, sock: socket.socket | None = None) -> GuardedSite:
        return GuardedSite(
            runner, host, port, settings, lambda reason: refused.labels(reason).inc(), sock=sock
        )

    shared = None if listen_fd is None else socket.socket(fileno=listen_fd)
    public = site(settings.host, settings.port, shared)
    try:
        await public.start()
        if state.cluster is not None:
            host = settings.cluster_advertise_host or settings.host
            private = site(host, settings.cluster_port)
            await private.start()
            await state.cluster.start(f"http://{settings.cluster_host}:{private.bound[1]}")
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise ListenError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    # The address actually bound: with PM_PORT=0 the port the system chose, which this line
    # is the only place to learn (the tests start servers that way, so no two ever race
    # for a port).
    host, port = public.bound
    state.listening_on(port)
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
    draining: set[asyncio.Task[None]] = set()
    if state.cluster is not None:
        from pm_server import cluster  # noqa: PLC0415 - loaded for a cluster only

        def drain_node() -> None:
            task = loop.create_task(cluster.drain(state))
            draining.add(task)
            task.add_done_callback(draining.discard)

        loop.add_signal_handler(signal.SIGUSR1, drain_node)
    try:
        await stop.wait()
        log.info("shutting down")
        await app[STATE].drain(settings.shutdown_grace_seconds, settings.drain_delay_seconds)
    finally:
        await runner.cleanup()
        log.info("stopped")
