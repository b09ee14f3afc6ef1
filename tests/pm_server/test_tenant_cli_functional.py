"""``pm tenant ...`` against a live server: the CLI runs in its own process, as operators run it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from pm_db import admin
from pm_db.migrator import load_migrations
from pm_db.paths import TenantPaths
from pm_db.tenants import TenantDatabases
from pm_proto.v1 import commands_pb2
from pm_server.cli import main
from tests.pm_server.boards import new_item
from tests.pm_server.conftest import Server, create_project, start_server, subscribe


async def pm(data_dir: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``pm tenant ARGS --data-dir DATA_DIR`` in a subprocess: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pm_server",
        "tenant",
        *args,
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PM_LOG_LEVEL": "WARNING"},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def stop(server: Server, runner: object) -> None:
    for client in server.clients:
        await client.close()
    await runner.cleanup()  # type: ignore[attr-defined]


async def test_backup_while_serving_then_restore_makes_resuming_clients_refetch(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    backup = tmp_path / "acme.backup"
    server, runner = await start_server(data_dir)
    try:
        alice = await server.client()
        project = await create_project(alice)
        subscribed = await subscribe(alice, project.id)
        acked: list[str] = []
        writing = True

        async def writer() -> None:
            number = 0
            while writing:
                number += 1
                item = await new_item(alice, project.id, f"item {number}")
                acked.append(item.id)
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(writer())
        while len(acked) < 10:
            await asyncio.sleep(0.01)
        before = list(acked)
        code, out, err = await pm(data_dir, "backup", "acme", str(backup))
        during = len(acked) - len(before)
        at_backup_end = len(acked)
        while len(acked) < at_backup_end + 5:  # and writes go on after it
            await asyncio.sleep(0.01)
        writing = False
        await task
        assert (code, err) == (0, "")
        assert out.startswith(f"backed up tenant acme to {backup} (")
        assert during > 0, "no write was acknowledged while the backup ran"
        events = alice.drain_events()
        position = commands_pb2.ResumePosition(epoch=subscribed.epoch, seq=events[-1].seq)

        # The server holds the tenant open and the restore may not wait for it to let go:
        # refused, and nothing changes.
        code, out, err = await pm(data_dir, "restore", "acme", str(backup), "--yes", "--wait", "0")
        assert code == 6
        assert err.count("\n") == 1
        assert "tenant acme is open in a running pm server" in err
        still = await alice.request("get_work_item", commands_pb2.GetWorkItem(item_id=acked[-1]))
        assert still.work_item.item.title == f"item {len(acked)}"
    finally:
        await stop(server, runner)

    code, out, err = await pm(data_dir, "restore", "acme", str(backup), "--yes", "--json")
    assert (code, err) == (0, "")
    restored = json.loads(out)
    assert restored["epoch"] != subscribed.epoch
    assert restored["backup_epoch"] == subscribed.epoch

    server, runner = await start_server(data_dir)
    try:
        alice = await server.client()
        reply = await alice.request(
            "subscribe", commands_pb2.Subscribe(project_ids=[project.id], resume=position)
        )
        assert reply.subscribed.must_refetch
        assert reply.subscribed.epoch == restored["epoch"]
        listed = await alice.request(
            "list_work_items", commands_pb2.ListWorkItems(project_id=project.id, limit=1000)
        )
        held = {item.id for item in listed.work_items.items}
        assert set(before) <= held  # every write acknowledged before the backup started
        assert held == set(acked[: len(held)])  # one consistent point in the write order
        assert len(held) < len(acked)  # and nothing written after it
    finally:
        await stop(server, runner)
    conn = sqlite3.connect(TenantPaths(data_dir).db_path("acme"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


async def test_export_import_list_and_delete_around_a_live_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, runner = await start_server(data_dir)
    try:
        alice = await server.client()
        project = await create_project(alice, "EX", "Exported")
        await new_item(alice, project.id, "carried over")

        code, document, err = await pm(data_dir, "export", "acme", "-")
        assert (code, err) == (0, "")
        code, out, err = await pm(data_dir, "import", "copy", "-", stdin=document.encode())
        assert (code, err) == (0, "")
        assert out.startswith("imported tenant copy (")

        code, out, err = await pm(data_dir, "list", "--json")
        assert code == 0
        listed = {row["tenant"]: row for row in json.loads(out)}
        assert listed["acme"]["open"] is True  # the server holds it
        assert listed["copy"]["open"] is False
        newest = len(load_migrations())
        assert listed["copy"]["schema_version"] == listed["acme"]["schema_version"] == newest
        # The imported tenant is served like any other.
        bob = await server.client(tenant="copy", user="alice")
        projects = await bob.request("list_projects", commands_pb2.ListProjects())
        assert [p.key for p in projects.projects.projects] == ["EX"]
        item = await bob.request("get_work_item", commands_pb2.GetWorkItem(display_key="EX-1"))
        assert item.work_item.item.title == "carried over"

        code, out, err = await pm(data_dir, "delete", "acme", "--yes", "--wait", "0")
        assert code == 6
        assert "tenant acme is open in a running pm server" in err
        # Refused means untouched: the tenant keeps serving.
        await new_item(alice, project.id, "after the refused delete")
    finally:
        await stop(server, runner)

    code, out, err = await pm(data_dir, "delete", "acme", "--yes")
    assert (code, out, err) == (0, "deleted tenant acme\n", "")
    assert not (data_dir / "tenants" / "acme").exists()
    assert [t.tenant_id for t in admin.list_tenants(TenantPaths(data_dir))] == ["copy"]


def test_tenant_list_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def create() -> None:
        dbs = TenantDatabases(tmp_path)
        for tenant in ("beta", "alpha"):
            async with dbs.use(tenant):
                pass
        await dbs.close()

    asyncio.run(create())
    assert main(["tenant", "list", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["TENANT", "alpha", "beta"]
    assert lines[0].split() == ["TENANT", "SIZE", "SCHEMA", "SEQ", "OPEN"]
    assert lines[1].split()[-3:] == [str(len(load_migrations())), "0", "no"]


# -- every error path: one line on stderr, the exit code of its class --------------


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A data dir with tenant acme, its backup, its export and some bad files."""
    data_dir = tmp_path / "data"

    async def create() -> None:
        dbs = TenantDatabases(data_dir)
        async with dbs.use("acme") as db:
            await db.write(lambda uow: uow.users.upsert(user_id="alice", display_name="Alice"))
        await dbs.close()

    asyncio.run(create())
    admin.backup_tenant(TenantPaths(data_dir), "acme", tmp_path / "acme.backup")
    assert (
        main(["tenant", "export", "acme", str(tmp_path / "acme.json"), "--data-dir", str(data_dir)])
        == 0
    )
    (tmp_path / "corrupt.backup").write_bytes(b"not a database" * 100)
    (tmp_path / "v2.json").write_text('{"format": "pm-tenant-export", "version": 2}')
    text = (tmp_path / "acme.json").read_text()
    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    return tmp_path


ERROR_PATHS = [
    ("bad-id", ["backup", "Bad!", "{tmp}/out.db"], 2, "tenant id must match"),
    ("missing-arg", ["backup", "acme"], 2, "the following arguments are required: FILE"),
    ("unknown-tenant", ["backup", "ghost", "{tmp}/out.db"], 3, "tenant ghost not found"),
    (
        "backup-exists",
        ["backup", "acme", "{tmp}/acme.json"],
        4,
        "exists; pass --force to overwrite",
    ),
    ("backup-no-dir", ["backup", "acme", "{tmp}/nope/out.db"], 3, "no such file: {tmp}/nope"),
    ("restore-missing", ["restore", "acme", "{tmp}/nope.db", "--yes"], 3, "no such file"),
    (
        "restore-corrupt",
        ["restore", "acme", "{tmp}/corrupt.backup", "--yes"],
        5,
        "is not a pm tenant database",
    ),
    ("restore-no-yes", ["restore", "acme", "{tmp}/acme.backup"], 4, "already exists; pass --yes"),
    ("export-unknown", ["export", "ghost", "{tmp}/out.json"], 3, "tenant ghost not found"),
    ("export-exists", ["export", "acme", "{tmp}/acme.json"], 4, "pass --force"),
    ("import-exists", ["import", "acme", "{tmp}/acme.json"], 4, "tenant acme already exists"),
    ("import-missing", ["import", "new", "{tmp}/nope.json"], 3, "no such file"),
    (
        "import-version",
        ["import", "new", "{tmp}/v2.json"],
        5,
        "export format version 2 is not supported",
    ),
    ("import-truncated", ["import", "new", "{tmp}/truncated.json"], 5, "not valid JSON"),
    ("delete-no-yes", ["delete", "acme"], 2, "refusing to delete tenant acme without --yes"),
    ("delete-unknown", ["delete", "ghost", "--yes"], 3, "tenant ghost not found"),
]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [case[1:] for case in ERROR_PATHS],
    ids=[case[0] for case in ERROR_PATHS],
)
def test_tenant_cli_error_is_one_line_on_stderr_with_its_exit_code(
    prepared: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    argv = ["tenant", *(a.format(tmp=prepared) for a in args), "--data-dir", str(prepared / "data")]
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        got = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert got == code
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"pm tenant {args[0]}: ")
    assert message.format(tmp=prepared) in err
    # A refused command changes nothing: acme is as it was, no new tenant appeared.
    assert [t.tenant_id for t in admin.list_tenants(TenantPaths(prepared / "data"))] == ["acme"]


def test_tenant_list_of_an_empty_data_dir_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "list", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"no tenants in {tmp_path}\n"
