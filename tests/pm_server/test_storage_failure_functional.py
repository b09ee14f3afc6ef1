"""Storage that fails under a running server: a damaged file, a file removed or replaced, a
full disk.

A damaged tenant is refused with a JSON 503 (UNAVAILABLE, not retryable) and one log
line, not a 500 and a traceback per attempt; a damaged page met by a read takes the
tenant out of service. A database file removed or replaced under load stops the writer
before its next commit: nothing is acknowledged after that, and every write acknowledged
before it is in the copy the server saves under ``<data_dir>/rescued/``. A new tenant on a
full disk is refused with a retryable JSON 503 and made once there is room again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from pm_core.enums import WorkItemType
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.test_rpc_functional import post
from tests.pm_server.test_tenant_cli_functional import pm
from tests.pm_server.wsclient import ServerError, WsClient

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


def _seed(data_dir: Path, tenant_id: str, items: int = 0) -> None:
    """A tenant on disk with one project ("PM") of ``items`` items, made before the server
    opens it."""

    def setup(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="alice", display_name="Alice", is_tenant_admin=True)
        project = uow.projects.create(key="PM", name="Board", created_by="alice")
        for n in range(items):
            uow.work_items.create(
                project_id=project.id,
                type=WorkItemType.TASK,
                title=f"item {n} " + "x" * 200,
                created_by="alice",
            )

    create_tenant(TenantPaths(data_dir), tenant_id, setup)


async def _upgrade(server: Server, tenant: str) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.ws_url.replace("ws://", "http://"),
            headers={
                "Authorization": f"Bearer {server.token(tenant)}",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ) as response,
    ):
        return response.status, await response.json()


async def test_a_damaged_database_is_refused_with_json_503_and_logged_once(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    _seed(server.data_dir, "broken")
    db_path = TenantPaths(server.data_dir).db_path("broken")
    with db_path.open("r+b") as file:
        file.write(b"this is no sqlite header at all")  # over SQLite's magic string

    with caplog.at_level(logging.INFO):
        answers = [await _upgrade(server, "broken") for _ in range(3)]

    for status, body in answers:
        assert status == 503
        assert body["code"] == "UNAVAILABLE"
        assert body["retryable"] is False
        assert "pm tenant check broken" in str(body["message"])
    damaged_lines = [r for r in caplog.records if "database is damaged" in r.getMessage()]
    assert len(damaged_lines) == 1
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
    # The other tenants never notice.
    alice = await server.client()
    assert (await create_project(alice)).key == "PM"


async def test_a_damaged_page_met_by_a_read_takes_the_tenant_out_of_service(
    server: Server,
) -> None:
    _seed(server.data_dir, "paged", items=300)
    db_path = TenantPaths(server.data_dir).db_path("paged")
    conn = sqlite3.connect(db_path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'work_items'"
    ).fetchone()
    conn.close()
    with db_path.open("r+b") as file:  # the table's root page: every read of it fails
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)

    alice = await server.client(tenant="paged", admin=True)
    (project,) = (
        await alice.request("list_projects", commands_pb2.ListProjects())
    ).projects.projects
    error = await alice.error("list_work_items", commands_pb2.ListWorkItems(project_id=project.id))

    assert envelope_pb2.ErrorCode.Name(error.code) == "UNAVAILABLE"
    assert error.retryable is False
    assert "pm tenant check paged" in error.message
    assert (await _upgrade(server, "paged"))[0] == 503  # out of service for everyone
    assert await alice.closed() == 4004

    # What the operator is told to run: it names the damage and the way out.
    code, out, _ = await pm(server.data_dir, "check", "paged")
    assert code == 1
    assert "tenant paged: damaged" in out
    assert "pm tenant restore paged" in out
    _seed(server.data_dir, "sound")
    assert await pm(server.data_dir, "check", "sound") == (0, "tenant sound: ok\n", "")


async def test_a_database_removed_under_load_acknowledges_nothing_it_did_not_save(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    writers = [await server.client(user=f"w{n}") for n in range(4)]
    project = await create_project(writers[0])
    for writer in writers[1:]:
        await writers[0].request(
            "add_member",
            commands_pb2.AddMember(
                project_id=project.id, user_id=writer.welcome.user.id, role=entities_pb2.ROLE_EDITOR
            ),
        )
    acknowledged: list[str] = []
    refused: list[ServerError] = []
    removed = asyncio.Event()

    async def write(client: WsClient) -> None:
        for n in range(100_000):
            command = commands_pb2.CreateWorkItem(project_id=project.id, type=TASK, title=f"{n}")
            try:
                reply = await client.request("create_work_item", command)
            except ServerError as exc:
                refused.append(exc)
                return
            except (ConnectionError, TimeoutError):
                return
            acknowledged.append(reply.work_item.item.id)
            if len(acknowledged) == 200:
                removed.set()

    with caplog.at_level(logging.INFO):
        tasks = [asyncio.ensure_future(write(client)) for client in writers]
        await asyncio.wait_for(removed.wait(), timeout=60)
        shutil.rmtree(TenantPaths(server.data_dir).tenant_dir("acme"))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)

    assert refused, "no write was refused after the removal"
    assert {e.code for e in refused} == {"UNAVAILABLE"}
    assert all(not e.error.retryable for e in refused)
    (rescued,) = (server.data_dir / "rescued").glob("acme-*.db")
    conn = sqlite3.connect(rescued)
    saved = {row[0] for row in conn.execute("SELECT id FROM work_items")}
    conn.close()
    missing = set(acknowledged) - saved
    assert not missing, f"{len(missing)} acknowledged writes are in no database"
    assert any(str(rescued) in r.getMessage() for r in caplog.records)
    for client in writers:
        assert await client.closed() == 4004


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own: a disk that fills. Mounting needs root."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"*** SKIPPED: a full disk needs a tmpfs mount (root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write a file until the disk has no room left; the file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        stopped = exc.errno
    finally:
        os.close(fd)
    assert stopped == errno.ENOSPC
    return filler


async def test_a_new_tenant_on_a_full_disk_gets_a_retryable_503_and_is_made_once_there_is_room(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, runner = await start_server(small_disk / "data")
    try:
        alice = await server.client()
        project = await create_project(alice)
        filler = _fill(small_disk)

        with caplog.at_level(logging.INFO):
            status, body = await _upgrade(server, "newcomer")

        assert status == 503
        assert body["code"] == "UNAVAILABLE"
        assert "retryable" not in body  # the same request may succeed later
        assert body["message"] == "the tenant's storage is full: try again later"
        assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)
        http_status, http_body, _ = await post(
            server, "list_projects", {}, token=server.token("httpcomer")
        )
        assert (http_status, http_body["code"]) == (503, "UNAVAILABLE")
        assert not list(TenantPaths(server.data_dir).root.glob(".blank-*")), "a half-made copy"
        # The tenant that was there reads on.
        listed = await alice.request("list_projects", commands_pb2.ListProjects())
        assert [p.id for p in listed.projects.projects] == [project.id]

        filler.unlink()
        newcomer = await server.client(tenant="newcomer")
        assert (await create_project(newcomer)).key == "PM"
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()
