"""``pm serve`` refusing a configuration: one line on stderr and exit code 2, no traceback;
an unknown ``PM_`` variable named in a warning."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from pm_server.settings import unknown_variables
from tests.serve_process import ServerProcess


async def run_serve(env: dict[str, str], *args: str) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pm_server",
        "serve",
        *args,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("PM_PORT", "abc", "PM_PORT"),
        ("PM_MAX_FRAME_BYTES", "12", "PM_MAX_FRAME_BYTES"),
        ("PM_LOG_FORMAT", "xml", "PM_LOG_FORMAT"),
    ],
)
async def test_invalid_setting_stops_serve_with_one_line_and_exit_2(
    tmp_path: Path, variable: str, value: str, names: str
) -> None:
    code, err = await run_serve({"PM_DATA_DIR": str(tmp_path / "data"), variable: value})
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith(f"pm serve: {names}: ")
    assert "Traceback" not in err


async def test_port_in_use_stops_serve_with_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_serve({"PM_DATA_DIR": str(tmp_path / "data"), "PM_PORT": str(port)})
    assert code == 2
    lines = err.splitlines()
    assert lines[-1].startswith(f"pm serve: cannot listen on 127.0.0.1:{port}: "), err
    assert "Traceback" not in err


async def test_misspelt_variable_is_named_in_a_warning_with_the_setting_it_meant(
    tmp_path: Path,
) -> None:
    server = ServerProcess(
        tmp_path / "data",
        tmp_path / "server.log",
        {"PM_MAX_CONECTIONS": "5", "PM_URL": "ws://elsewhere/v1/ws"},
        inherit_pm_env=False,
    )
    await server.start()
    assert await server.stop() == 0
    log = server.log_path.read_text()
    assert (
        "WARNING pm_server unknown setting PM_MAX_CONECTIONS is ignored "
        "(did you mean PM_MAX_CONNECTIONS?)" in log
    )
    assert "PM_URL" not in log  # the client's variable is known


def test_unknown_variables_lists_only_what_no_setting_or_client_uses() -> None:
    environ = {"PM_PORT": "1", "PM_TOKEN": "x", "PM_DATADIR": "/d", "HOME": "/root"}
    assert unknown_variables(environ) == [("PM_DATADIR", "PM_DATA_DIR")]
