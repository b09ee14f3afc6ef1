"""``pm watch`` in a subprocess: across server restarts, replay with --since, stop on a signal.

The server is a subprocess too, stopped and started again on the same port and
data directory; what ``pm watch --json`` printed is compared with the server's
event log (issue 5, acceptance 2).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

from pm_client import PmClient
from pm_client.cli.output import to_json
from pm_proto.v1 import entities_pb2
from tests.pm_client.cli_support import ServerProcess, cli_env, stored_events, token_for

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


class Watch:
    """``pm watch ... --json`` running, its lines collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._readers = [
            asyncio.ensure_future(self._read_stdout()),
            asyncio.ensure_future(self._read_stderr()),
        ]

    @classmethod
    async def start(cls, url: str, token: str, *args: str) -> Watch:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pm_server", "watch", "--json", *args,
            env=cli_env(url, token),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        watch = cls(proc)
        await watch.wait_note("watching", timeout=30)
        return watch

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.events.append(json.loads(line))

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.notes.append(line.decode().rstrip("\n"))

    async def wait_note(self, text: str, timeout: float) -> str:
        async with asyncio.timeout(timeout):
            while True:
                found = [note for note in self.notes if text in note]
                if found:
                    return found[0]
                assert self.proc.returncode is None, self.notes
                await asyncio.sleep(0.05)

    async def wait_seq(self, seq: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not self.events or int(self.events[-1]["seq"]) < seq:
                assert self.proc.returncode is None, self.notes
                await asyncio.sleep(0.05)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout=30)
        await asyncio.gather(*self._readers)
        return code

    @property
    def seqs(self) -> list[int]:
        return [int(event["seq"]) for event in self.events]


async def create_tasks(url: str, token: str, project_id: str, count: int, label: str) -> int:
    """Create ``count`` tasks on a fresh connection; the seq of the last one's event."""
    async with PmClient(url, token, reconnect=False) as pm:
        await pm.subscribe([project_id])
        for n in range(count):
            await pm.create_work_item(project_id=project_id, type=TASK, title=f"{label} {n}")
        return pm.last_seq


async def test_watch_keeps_streaming_across_server_restarts_and_misses_no_event(tmp_path: Path):
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    await server.start()
    watch: Watch | None = None
    try:
        token = token_for(server.data_dir, "alice")
        async with PmClient(server.ws_url, token) as pm:
            project = (await pm.create_project(key="LIVE", name="Live")).project
        watch = await Watch.start(server.ws_url, token, "--project", "LIVE")
        start = int(re.findall(r"from seq (\d+)", watch.notes[0])[0])

        await create_tasks(server.ws_url, token, project.id, 5, "before")
        await server.stop(signal.SIGTERM)  # graceful: the watch is closed with 1001
        await server.start()
        # Written at once, most likely before the watch is back: it must get them on resume.
        await create_tasks(server.ws_url, token, project.id, 5, "after restart")
        await watch.wait_note("reconnected", timeout=30)
        await server.stop(signal.SIGKILL)  # a crash: no goodbye at all
        await server.start()
        last = await create_tasks(server.ws_url, token, project.id, 5, "after crash")
        await watch.wait_seq(last)
        code = await watch.stop()
    finally:
        if watch is not None and watch.proc.returncode is None:
            watch.proc.kill()
        await server.stop()

    stored = stored_events(server.data_dir, project.id, after=start)
    assert code == 0, watch.notes
    assert len(stored) == 15
    assert watch.seqs == [event.seq for event in stored]  # all, in order, none twice
    assert watch.events == [to_json(event) for event in stored]
    assert any("connection lost" in note for note in watch.notes)


async def test_watch_since_replays_history_then_streams_live_for_several_projects(
    tmp_path: Path,
):
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    await server.start()
    try:
        token = token_for(server.data_dir, "alice")
        async with PmClient(server.ws_url, token) as pm:
            project = (await pm.create_project(key="HIST", name="History")).project
            other = (await pm.create_project(key="OTHER", name="Other")).project
        middle = await create_tasks(server.ws_url, token, project.id, 3, "old")
        await create_tasks(server.ws_url, token, project.id, 2, "recent")
        await create_tasks(server.ws_url, token, other.id, 1, "other")

        watch = await Watch.start(
            server.ws_url, token, "--project", "HIST", "OTHER", "--since", str(middle)
        )
        await create_tasks(server.ws_url, token, project.id, 2, "live")
        last = await create_tasks(server.ws_url, token, other.id, 1, "other live")
        await watch.wait_seq(last)
        # Stopped right after a write: the event committed before the signal is printed.
        async with PmClient(server.ws_url, token) as pm:
            final = await pm.create_work_item(project_id=project.id, type=TASK, title="final")
        code = await watch.stop()
    finally:
        await server.stop()

    assert code == 0
    titles = [event["work_item"]["title"] for event in watch.events]
    assert titles == [
        "recent 0",
        "recent 1",
        "other 0",
        "live 0",
        "live 1",
        "other live 0",
        "final",
    ]
    assert watch.events[-1]["entity_id"] == final.item.id
    stored = [
        *stored_events(server.data_dir, project.id, after=middle),
        *stored_events(server.data_dir, other.id, after=middle),
    ]
    assert watch.seqs == sorted(event.seq for event in stored)
