"""A real ``pm serve`` process on a free port with its own data dir, and its vital signs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from pm_auth.tokens import load_or_create_signing_key, mint_token

#: The checkout this bench belongs to: the server runs from here (not resolved, so a
#: snapshot that links bench/ in runs its own pm_server).
_ROOT = Path(__file__).absolute().parent.parent


#: Settings every bench server runs with (a scenario adds its own). The limits that
#: protect a shared server are lifted so that the figures measure the server's
#: capacity, not its limiter: rate limits are set far above any load here (so the
#: token buckets still run) and the connection caps above the scenario's connections.
#: Names the server does not know are ignored.
BENCH_SETTINGS: dict[str, object] = {
    "rate_limit_connection_per_second": 1_000_000,
    "rate_limit_connection_burst": 1_000_000,
    "rate_limit_tenant_per_second": 1_000_000,
    "rate_limit_tenant_burst": 1_000_000,
    "max_connections": 20_000,
    "max_connections_per_tenant": 20_000,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


def cpu_during(pid: int, start: float, until: float) -> dict[str, float]:
    """Sleep through the wall-clock window [start, until) and say how busy it was:
    the server's CPU in cores, and the whole machine's (all processes, all CPUs)."""
    time.sleep(max(0.0, start - time.time()))
    server0, (busy0, total0) = cpu_seconds(pid), machine_cpu()
    began = time.perf_counter()
    time.sleep(max(0.0, until - time.time()))
    server1, (busy1, total1) = cpu_seconds(pid), machine_cpu()
    elapsed = max(1e-9, time.perf_counter() - began)
    return {
        "server_cpu_cores": round((server1 - server0) / elapsed, 2),
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
    }


def with_children(pid: int) -> list[int]:
    """``pid`` and its direct children (the workers of ``pm serve --workers``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def uses_uvloop(pid: int) -> bool:
    """Whether ``pid`` has uvloop's extension mapped (it runs its event loop on uvloop)."""
    try:
        return "uvloop" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.05)


class PmServer:
    """``python -m pm_server.cli serve`` with ``PM_*`` settings from ``settings``."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        settings: dict[str, Any] | None = None,
        args: tuple[str, ...] = (),
    ):
        self.data_dir = data_dir
        self.log_path = log_path
        self.settings = BENCH_SETTINGS | dict(settings or {})
        #: More arguments of ``pm serve`` (``--workers 2``).
        self.args = args
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.key = load_or_create_signing_key(data_dir)

    @property
    def pid(self) -> int:
        assert self._process is not None, "server not started"
        return self._process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def token(self, tenant: str, user: str, *, admin: bool = False) -> str:
        return mint_token(self.key, tenant_id=tenant, user_id=user, name=user, tenant_admin=admin)

    def start(self, timeout: float = 30) -> PmServer:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        env |= {
            "PM_DATA_DIR": str(self.data_dir),
            "PM_HOST": "127.0.0.1",
            "PM_PORT": str(self.port),
        }
        env |= {f"PM_{name.upper()}": str(value) for name, value in self.settings.items()}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pm_server.cli", "serve", *self.args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=_ROOT,
            )
        try:
            wait_http(self.base_url + "/readyz", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def open_fds(self) -> int:
        return open_fds(self.pid)

    def uses_uvloop(self) -> bool:
        return uses_uvloop(self.pid)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.base_url + "/metrics", timeout=5) as response:
            return str(response.read().decode())

    def gauge(self, name: str) -> float | None:
        """The value of an unlabelled metric (``pm_open_tenants``), None when absent."""
        for line in self.metrics().splitlines():
            metric, _, value = line.partition(" ")
            if metric == name:
                return float(value)
        return None

    def healthz(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/healthz", timeout=5) as response:
            return dict(json.loads(response.read()))

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, wait for the drain, then kill if need be; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._process = None
        return process.returncode

    def __enter__(self) -> PmServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
