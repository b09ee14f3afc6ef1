"""``pm serve --workers N``: N pm processes on one port, sharing one data directory.

One process uses about one core (one GIL). The parent binds the port once and
hands the listening socket to N ``pm serve`` children (``--listen-fd``); the
kernel gives each new connection to one of them. Tenants are shared between the
children by ownership in Redis (``PM_REDIS_URL`` is required, docs/scaling.md):
a connection that lands on a child that does not own its tenant is relayed to
the owner.

The parent does no serving. It forwards SIGTERM and SIGINT (every child drains
and stops) and SIGUSR1 (every child drains its tenants), and starts a child
again when one dies on its own (its tenants are taken over by the others once
their leases expire).
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Final

from pm_server import __version__
from pm_server.settings import Settings

log = logging.getLogger("pm_server")

#: Seconds between looks at the children.
_POLL: Final = 0.2
#: Seconds a stopping child has to drain before it is killed.
_STOP_MARGIN: Final = 15.0


def run(settings: Settings, count: int) -> int:
    """Serve with ``count`` worker processes until SIGTERM or SIGINT; the exit code."""
    if settings.redis_url is None:
        print(
            "pm serve: --workers needs PM_REDIS_URL (the workers share tenants through "
            "ownership in Redis; see docs/scaling.md)",
            file=sys.stderr,
        )
        return 2
    try:
        listener = socket.create_server((settings.host, settings.port), backlog=1024)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(
            f"pm serve: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr
        )
        return 2
    listener.set_inheritable(True)
    host, port = listener.getsockname()[:2]
    log.info("pm %s starting %d workers on http://%s:%d", __version__, count, host, port)
    stopping: list[int] = []
    forwarded: list[int] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        (forwarded if signum == signal.SIGUSR1 else stopping).append(signum)

    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(handled, on_signal)
    children = [_start(listener) for _ in range(count)]
    try:
        while not stopping:
            time.sleep(_POLL)
            while forwarded:
                signum = forwarded.pop()
                for child in children:
                    child.send_signal(signum)
            for i, child in enumerate(children):
                code = child.poll()
                if code is not None and not stopping:
                    log.warning("worker %d exited with %s: starting another", child.pid, code)
                    children[i] = _start(listener)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.shutdown_grace_seconds + _STOP_MARGIN
        for child in children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        listener.close()
    log.info("stopped")
    return 0


def _start(listener: socket.socket) -> subprocess.Popen[bytes]:
    fd = listener.fileno()
    return subprocess.Popen(
        [sys.executable, "-m", "pm_server", "serve", "--listen-fd", str(fd)], pass_fds=(fd,)
    )
