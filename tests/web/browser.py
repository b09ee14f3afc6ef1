"""A pm server and a headless Chromium for the board's browser tests, both per test module.

Playwright drives Debian's ``/usr/bin/chromium`` with the flags of :mod:`tools.chromium`.
Without Chromium or Playwright the tests are skipped with their reason; under ``CI=true`` they
fail instead (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import pytest

from tools.chromium import CHROMIUM, CHROMIUM_FLAGS

SERVING = re.compile(rb"serving on http://[^\s:]+:(\d+) ")


def missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


class Server:
    """``python -m pm_server serve`` as a process: stopped and started again on its port."""

    def __init__(
        self, data_dir: Path, log_path: Path, settings: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        #: More ``PM_*`` variables of this server (``{"PM_SIGNIN": "true"}``).
        self.settings = settings or {}
        self._tokens: dict[tuple[str, str, str], str] = {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        return {
            **inherited,
            **self.settings,
            "PM_DATA_DIR": str(self.data_dir),
            "PM_LOG_LEVEL": "INFO",
        }

    def start(self) -> None:
        self.log_path.touch()
        offset = self.log_path.stat().st_size
        self._log = self.log_path.open("ab")
        env = {**self.env(), "PM_HOST": "127.0.0.1", "PM_PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pm_server", "serve"], env=env, stderr=self._log
        )
        for _ in range(1200):
            with self.log_path.open("rb") as log:
                log.seek(offset)
                found = SERVING.search(log.read())
            if found is not None:
                self.port = int(found.group(1))
                return
            if self.proc.poll() is not None:
                pytest.fail(f"pm serve exited with {self.proc.returncode}")
            time.sleep(0.05)
        pytest.fail("pm serve did not say where it serves")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def pm(self, *args: str, stdin: str | None = None) -> str:
        """Run the ``pm`` command line on this server's data dir; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "pm_server", *args],
            env={**self.env(), "PM_PORT": str(self.port)},
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def token(self, tenant: str, user: str, name: str) -> str:
        """A development token from ``pm token``; minted once per module (a process each)."""
        key = (tenant, user, name)
        if key not in self._tokens:
            self._tokens[key] = self.pm("token", "--tenant", tenant, "--user", user, "--name", name)
        return self._tokens[key]


@contextlib.contextmanager
def serving(settings: dict[str, str] | None = None) -> Iterator[Server]:
    """A started server on a data dir of its own, stopped and removed after."""
    folder = Path(tempfile.mkdtemp(prefix="pm-board-"))
    srv = Server(folder / "data", folder / "server.log", settings)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving() as srv:
        yield srv


# Per module, not per session: Playwright's sync API keeps its event loop running in this
# thread while it is open, and the asyncio tests of other modules cannot run beside it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python package playwright is not installed (make test installs it)")
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: apt-get install chromium")
    # Playwright gives each launch a new, empty --user-data-dir of its own.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
