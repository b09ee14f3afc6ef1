"""Optional py-spy profiles of the server process during a measured phase.

``--profile DIR`` records each measured phase of each scenario as a flame
graph (``.svg``) plus collapsed stacks (``.txt``), of every thread and of the thread
holding the GIL (``-gil``), and keeps a short summary
(the functions with the most samples on top of the stack, and the most
samples anywhere on it) in the results, so a missed target comes with where
the server's time went.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiled(directory: Path | None, name: str, pid: int, into: dict[str, Any]) -> Iterator[None]:
    """Profile ``pid`` while the block runs; put a summary under ``into["profile"]``."""
    tool = py_spy() if directory is not None else None
    if directory is None or tool is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    # Two recordings: every thread (the writer's time in SQLite shows, GIL released or not),
    # and only the thread holding the GIL (``-gil``): a server at one core is bound by the
    # GIL, and this one shows which Python holds it.
    recordings = {
        "profile": directory / f"{name}.txt",
        "profile_gil": directory / f"{name}-gil.txt",
    }
    command = [tool, "record", "--pid", str(pid), "--rate", "250", "--nonblocking"]
    processes = []
    for key, raw in recordings.items():
        gil = ["--gil"] if key == "profile_gil" else []
        processes.append(
            subprocess.Popen(
                [*command, *gil, "--format", "raw", "--output", str(raw)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    for key, raw in recordings.items():
        if raw.exists():
            into[key] = summarize(raw)
            into[key]["file"] = str(raw)
            _flamegraph(raw, raw.with_suffix(".svg"))


def _flamegraph(raw: Path, svg: Path) -> None:
    """Keep the collapsed stacks; an SVG is drawn only when flamegraph.pl is around."""
    tool = shutil.which("flamegraph.pl")
    if tool is None:
        return
    with raw.open("rb") as source, svg.open("wb") as target:
        subprocess.run([tool], stdin=source, stdout=target, check=False)


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Most-sampled functions from py-spy's collapsed stacks (``frame;frame;... count``)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    return {
        "samples": total,
        "self": [(name, round(100 * n / total, 1)) for name, n in own.most_common(top)],
        "total": [(name, round(100 * n / total, 1)) for name, n in anywhere.most_common(top)],
    }


def _short(frame: str) -> str:
    """``send_bytes (aiohttp/web_ws.py:400)`` -> ``send_bytes (aiohttp/web_ws.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})" if path else name
