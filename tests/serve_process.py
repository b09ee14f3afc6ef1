"""``pm serve`` as a child process, for the tests that need a real process.

Each server listens on ``PM_PORT=0``: the system picks a free port, and the
``serving on`` line of the server's log names it. Picking a port in the test and
handing it over would race with every other server the suite starts at the same
time (the tests run in parallel), and a test could then talk to another test's
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import aiohttp
import pytest

SERVING = re.compile(rb"serving on http://[^\s:]+:(\d+) ")


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port that refuses connections for as long as the block runs: bound, never
    listening, so no server started meanwhile can take it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def wait_healthy(url: str, proc: asyncio.subprocess.Process) -> dict[str, str]:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if proc.returncode is not None:
                pytest.fail(f"server exited with {proc.returncode}")
            try:
                async with session.get(url) as response:
                    assert response.status == 200
                    body: dict[str, str] = await response.json()
                    return body
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    pytest.fail("server did not become healthy")


class ServerProcess:
    """``python -m pm_server serve`` on ``data_dir``, its log appended to ``log_path``.

    The first start takes the port the system picks; later starts (after a stop or a
    kill) listen on that same port, as a restarted server would.
    """

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        inherit_pm_env: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._env = dict(env or {})
        self._inherit_pm_env = inherit_pm_env
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    async def start(self) -> None:
        inherited = {
            k: v for k, v in os.environ.items() if self._inherit_pm_env or not k.startswith("PM_")
        }
        env = {
            **inherited,
            "PM_LOG_LEVEL": "INFO",  # the port is read from the INFO line that names it
            **self._env,
            "PM_HOST": "127.0.0.1",
            "PM_PORT": str(self.port),
            "PM_DATA_DIR": str(self.data_dir),
        }
        self.log_path.touch()
        offset = self.log_path.stat().st_size
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pm_server", "serve", env=env, stderr=self._log
        )
        try:
            self.port = await self._bound_port(offset)
            await wait_healthy(f"{self.base_url}/healthz", self.proc)
        except BaseException:  # pytest.fail included: stop it and close its log
            await self.stop(signal.SIGKILL)
            raise

    async def _bound_port(self, offset: int) -> int:
        """The port named by the ``serving on`` line this start wrote to the log."""
        assert self.proc is not None
        for _ in range(600):
            with self.log_path.open("rb") as log:
                log.seek(offset)
                found = SERVING.search(log.read())
            if found is not None:
                return int(found.group(1))
            if self.proc.returncode is not None:
                pytest.fail(f"server exited with {self.proc.returncode}")
            await asyncio.sleep(0.05)
        pytest.fail("server did not log the address it serves on")

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop with ``sig`` (SIGTERM drains; SIGKILL is a crash) and wait."""
        if self.proc is None:
            return 0
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout=30)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    async def kill(self) -> None:
        """SIGKILL: no drain, no checkpoint, no goodbye."""
        await self.stop(signal.SIGKILL)
