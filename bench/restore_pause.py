"""Restoring one tenant while another writes: does the other tenant notice?

``python -m bench.restore_pause`` starts a real ``pm serve`` with two tenants. A
client of tenant ``other`` creates items one after another, without pause, and
every reply's arrival time is kept. After a baseline window, ``pm tenant restore``
replaces tenant ``acme`` from a backup while the server runs (the server lets go of
``acme`` for it). It prints, for the baseline window and for the window the restore
ran in, the other tenant's creates/s and its longest gap between two replies. Not
part of ``make bench``: a separate check of docs/operations.md's claim that the
other tenants do not notice (the functional test asserts only that they see no error).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.server import PmServer
from pm_client.client import PmClient
from pm_proto.v1 import entities_pb2

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


async def pm_tenant(data_dir: Path, *args: str) -> float:
    """Run ``pm tenant ARGS``; returns its wall time."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pm_server",
        "tenant",
        *args,
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"pm tenant {args[0]} failed: {err.decode()}")
    return time.perf_counter() - started


def window(acks: list[float], start: float, end: float) -> dict[str, float]:
    inside = [t for t in acks if start <= t <= end]
    gaps = [b - a for a, b in itertools.pairwise(inside)]
    return {
        "seconds": round(end - start, 3),
        "creates_per_s": round(len(inside) / (end - start), 1),
        "max_gap_ms": round(max(gaps) * 1000, 2) if gaps else float("nan"),
    }


async def measure(server: PmServer, data_dir: Path, baseline_s: float) -> dict[str, object]:
    backup = data_dir.parent / "acme.backup"
    async with PmClient(server.ws_url, server.token("acme", "alice")) as alice:
        project = (await alice.create_project(key="PM", name="Restored")).project
        for n in range(200):
            await alice.create_work_item(project_id=project.id, type=TASK, title=f"kept {n}")
    await pm_tenant(data_dir, "backup", "acme", str(backup))
    acks: list[float] = []
    writing = True
    async with PmClient(server.ws_url, server.token("other", "bob")) as bob:
        other = (await bob.create_project(key="OT", name="Other")).project

        async def write() -> None:
            while writing:
                await bob.create_work_item(project_id=other.id, type=TASK, title="x")
                acks.append(time.perf_counter())

        task = asyncio.ensure_future(write())
        await asyncio.sleep(1.0)  # warm up
        base_start = time.perf_counter()
        await asyncio.sleep(baseline_s)
        base_end = restore_start = time.perf_counter()
        restore_s = await pm_tenant(data_dir, "restore", "acme", str(backup), "--yes")
        restore_end = time.perf_counter()
        await asyncio.sleep(0.5)
        writing = False
        await task
    return {
        "restore_s": round(restore_s, 3),
        "baseline": window(acks, base_start, base_end),
        "during_restore": window(acks, restore_start, restore_end),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.restore_pause")
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        with PmServer(data_dir, Path(tmp) / "server.log") as server:
            result = asyncio.run(measure(server, data_dir, args.baseline))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
