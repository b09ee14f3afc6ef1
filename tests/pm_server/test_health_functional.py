"""`pm serve` as a real process: settings from PM_* variables, /healthz over a real socket."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pydantic
import pytest

from pm_server.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


async def test_pm_serve_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PM_PORT": str(port), "PM_DATA_DIR": str(tmp_path / "data")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pm_server", "serve", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        body = await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        assert body == {"status": "ok"}
        assert (tmp_path / "data").is_dir()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0
    assert f"serving on http://127.0.0.1:{port}" in stderr.decode()


def test_settings_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PM_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8700, Path("var"))
    assert settings.db_synchronous == "NORMAL"


def test_settings_come_from_pm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_PORT", "9123")
    monkeypatch.setenv("PM_MAX_OPEN_TENANTS", "7")
    settings = Settings()
    assert settings.port == 9123
    assert settings.max_open_tenants == 7
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_invalid_setting_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        Settings()


def test_readme_documents_every_setting_and_no_other() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(PM_[A-Z0-9_]+)`", readme, re.MULTILINE))
    assert documented == {f"PM_{name.upper()}" for name in Settings.model_fields}
