"""`pm serve` as a real process: settings from PM_* variables, /healthz over a real socket."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pydantic
import pytest

from pm_server.settings import Settings
from tests.serve_process import ServerProcess, wait_healthy


async def test_pm_serve_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    await server.start()
    assert server.proc is not None
    try:
        body = await wait_healthy(f"{server.base_url}/healthz", server.proc)
        assert body == {"status": "ok"}
        assert (tmp_path / "data").is_dir()
    finally:
        code = await server.stop()
    assert code == 0
    # PM_PORT=0: the system's choice of port, which the log line names.
    assert server.port != 0
    assert f"serving on http://127.0.0.1:{server.port} " in server.log_path.read_text()


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
