"""Running ``pm`` client commands in subprocesses against live servers, for the CLI tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import events_pb2
from tests import serve_process
from tests.pm_server.conftest import Server, start_server

TENANT = "acme"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()


def cli_env(url: str, token: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a ``pm`` subprocess: this one's, without any PM_* but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    env["PM_URL"] = url
    if token is not None:
        env["PM_TOKEN"] = token
    env.update(extra)
    return env


async def run_pm(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> Result:
    """``python -m pm_server ARGS`` to completion."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pm_server",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), timeout
    )
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def token_for(data_dir: Path, user: str, *, admin: bool = False, tenant: str = TENANT) -> str:
    key = load_or_create_signing_key(data_dir)
    return mint_token(key, tenant_id=tenant, user_id=user, name=user.title(), tenant_admin=admin)


def pm_shim(directory: Path) -> Path:
    """A ``pm`` executable in ``directory`` that runs this checkout with this interpreter."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "pm"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pm_server "$@"\n')
    shim.chmod(0o755)
    return directory


def stored_events(data_dir: Path, project_id: str, after: int = 0) -> list[events_pb2.Event]:
    """The project's events as the server's event log holds them, in seq order."""
    path = data_dir / "tenants" / TENANT / "main.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT payload FROM events WHERE project_id = ? AND seq > ? ORDER BY seq",
            (project_id, after),
        ).fetchall()
    return [events_pb2.Event.FromString(payload) for (payload,) in rows]


class ServerProcess(serve_process.ServerProcess):
    """A server the CLI tests stop and start again on the same port and data, with none of
    the caller's ``PM_*`` settings."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__(
            data_dir, log_path, {"PM_SHUTDOWN_GRACE_SECONDS": "2"}, inherit_pm_env=False
        )


class InThreadCli:
    """``pm`` client commands run by ``pm_server.cli.main`` in a worker thread.

    The same parser and code as the ``pm`` process, without the ~1 s start of
    a new interpreter: for the tests that go through many commands. (The
    acceptance tests run real subprocesses.) Connection flags are passed
    explicitly; PM_PROJECT must not be set (the ``cli`` fixture removes it).
    """

    def __init__(self, url: str, token: Callable[[str], str]) -> None:
        self.url = url
        self.token = token

    async def __call__(self, *args: str, user: str = "alice", stdin: str = "") -> Result:
        argv = [*args, "--url", self.url, "--token", self.token(user)]
        return await asyncio.to_thread(self._main, argv, stdin)

    @staticmethod
    def _main(argv: list[str], stdin: str) -> Result:
        from pm_server.cli import main

        out, err = io.StringIO(), io.StringIO()
        saved_stdin = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin = saved_stdin
        return Result(code, out.getvalue(), err.getvalue())


@contextlib.asynccontextmanager
async def live_server(tmp_path: Path) -> AsyncIterator[Server]:
    """A real server in this process on a real socket (like tests/pm_server's fixture)."""
    srv, runner = await start_server(tmp_path / "data")
    try:
        yield srv
    finally:
        for client in srv.clients:
            await client.close()
        await runner.cleanup()
