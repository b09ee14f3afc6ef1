"""A real ``redis-server`` of the tests' own, on a free port in a temporary directory.

The cluster tests need a Redis (pm keeps tenant leases and fencing tokens there).
Each server is started by the test that needs it, stopped by its PID, and never
writes outside its directory (no persistence: a restart starts empty, the worst
case pm must survive). Outside CI a machine without ``redis-server`` skips those
tests with a loud line (the summary of ``tests/conftest.py``); under ``CI=true``
it is a failure, as `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

MISSING = (
    "redis-server is not installed (apt-get install redis-server): the cluster tests are skipped"
)


def redis_binary() -> str:
    """The path of ``redis-server``; skips (fails under CI=true) when it is missing."""
    found = shutil.which("redis-server")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed, and CI=true: .ci/run installs it")
        pytest.skip(MISSING)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """``redis-server`` on 127.0.0.1, its files and log in ``directory``.

    The first start takes a free port (another one if it was taken meanwhile);
    a restart after :meth:`kill` listens on the same port, as a restarted Redis would.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = redis_binary()
        for _ in range(5):
            port = self.port or _free_port()
            if self._start(binary, port):
                self.port = port
                return
            if self.port:  # our own port is taken: nothing to retry with
                break
        pytest.fail(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def _start(self, binary: str, port: int) -> bool:
        args = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if self._answers(port):
                return True
            time.sleep(0.02)
        self.kill()
        return False

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL by PID and wait: everything it held is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    stop = kill
