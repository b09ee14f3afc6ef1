"""The curl examples of docs/http.md run as written against a live server.

Every ``sh`` block runs, in order, in one bash (``set -euo pipefail``, so a
``--fail-with-body`` that meets an error status fails the test). A block
followed by an ``http`` block must answer the status line shown there; one
followed by a ``json`` block must answer JSON with the same top-level fields.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.pm_server.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "http.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
MARK = "@@ block {} @@"


def examples() -> list[tuple[str, str | None, str | None]]:
    """Each ``sh`` block with the kind and text of the block right after it (if any)."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in BLOCK.finditer(DOC.read_text())]
    out: list[tuple[str, str | None, str | None]] = []
    for index, (kind, text, _start, end) in enumerate(found):
        if kind != "sh":
            continue
        following = found[index + 1] if index + 1 < len(found) else None
        if following is not None and DOC.read_text()[end : following[2]].strip() == "":
            out.append((text, following[0], following[1]))
        else:
            out.append((text, None, None))
    return out


def top_level_keys(shown: str) -> set[str]:
    """The keys of the outermost object of an answer shown with elisions (``…``)."""
    keys, depth, at = set(), 0, 0
    while at < len(shown):
        char = shown[at]
        if char == '"':
            end = shown.index('"', at + 1)
            if depth == 1 and shown[end + 1 :].lstrip().startswith(":"):
                keys.add(shown[at + 1 : end])
            at = end
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        at += 1
    return keys


def tools_missing() -> list[str]:
    return [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]


async def test_the_curl_examples_of_the_http_doc_run_as_written(
    server: Server, tmp_path: Path
) -> None:
    missing = tools_missing()
    if missing:
        message = (
            f"docs/http.md examples need {', '.join(missing)} (apt-get install {' '.join(missing)})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        print(f"\n!!! SKIPPED: {message}", file=sys.stderr)
        pytest.skip(message)
    blocks = examples()
    assert len(blocks) >= 4, "docs/http.md lost its curl examples"
    script = "set -euo pipefail\n" + "".join(
        f"echo '{MARK.format(n)}'\n{text}\necho\n" for n, (text, _, _) in enumerate(blocks)
    )
    env = {
        **os.environ,
        "PM_URL": server.base_url,
        "PM_DATA_DIR": str(server.data_dir),  # where `pm token` finds the server's key
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    venv = ROOT / ".venv"
    if not (venv / "bin" / "pm").exists():  # the doc says .venv/bin/pm: give it one
        (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
        cwd = tmp_path
    else:
        cwd = ROOT
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    raw, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    output = raw.decode()
    assert proc.returncode == 0, output
    outputs = re.split(r"@@ block \d+ @@\n", output)[1:]
    assert len(outputs) == len(blocks), output
    for (text, kind, shown), got in zip(blocks, outputs, strict=True):
        if kind == "http" and shown is not None:
            status_line = shown.splitlines()[0]
            assert got.startswith(status_line.split(" ")[0]), (text, got)
            assert got.splitlines()[0].split(" ")[1] == status_line.split(" ")[1], (text, got)
        elif kind == "json" and shown is not None:
            answer = json.loads(got.strip().splitlines()[-1])
            assert set(answer) == top_level_keys(shown), (text, got)
    # The idempotent example filed its item once, under its key.
    assert '"requestId":"nightly-build-1234"' in output.replace(" ", "")
    assert re.search(r"^\d+$", outputs[-1].strip(), re.MULTILINE), outputs[-1]
