"""The quick-start script in docs/protocol.md runs as written against a live server."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.pm_server.conftest import Server

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def quick_start_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks, "docs/protocol.md has no python block"
    return str(blocks[0])


async def run_script(server: Server, path: Path) -> str:
    env = {**os.environ, "PM_TOKEN": server.token("acme", "alice"), "PM_WS_URL": server.ws_url}
    log = path.with_suffix(".out")
    with log.open("wb") as handle:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-u", str(path), env=env, stdout=handle, stderr=handle
        )
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    out = log.read_text()
    assert proc.returncode == 0, out
    return out


async def test_protocol_quick_start_runs_as_written(server: Server, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(quick_start_script())
    first = await run_script(server, script)
    assert "connected as alice in tenant acme" in first
    assert re.search(r"subscribed at seq \d+", first)
    assert "HELLO-1 Say hello" in first
    second = await run_script(server, script)  # the project exists now: found by key
    assert "HELLO-2 Say hello" in second
