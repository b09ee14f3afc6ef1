"""web/'s own tests, by node's test runner: the SDK's against real pm servers (web/sdk/test), the
board's pure parts (web/app/test).

The TypeScript is compiled into web/build; the tests start ``python -m pm_server serve``
themselves with this interpreter (PM_PYTHON), so they can stop and restart it. Node 20 needs
``--experimental-websocket`` for the WebSocket that browsers have.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.web.conftest import WEB


@pytest.mark.timeout(600)
def test_sdk_tests_pass_against_a_real_server(node_bin: Path, tmp_path: Path) -> None:
    compiled = subprocess.run(
        [str(node_bin / "tsc"), "-p", "tsconfig.json"],
        cwd=WEB,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    tests = sorted(str(p.relative_to(WEB)) for p in (WEB / "build").glob("*/test/*.test.js"))
    assert tests, "no compiled SDK tests"
    result = subprocess.run(
        ["node", "--experimental-websocket", "--no-warnings", "--test", *tests],
        cwd=WEB,
        env={**os.environ, "PM_PYTHON": sys.executable, "PM_WEB_TMP": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "# fail 0" in result.stdout
