"""Restoring or deleting one tenant while the server runs: the server lets go of that
tenant (its connections closed with 1013, the tenant refused with 503 meanwhile), and
the other tenants never notice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from pm_db import maintenance
from pm_db.paths import TenantPaths
from pm_proto.v1 import commands_pb2
from tests.pm_server.boards import new_item
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.test_tenant_cli_functional import pm
from tests.pm_server.wsclient import ServerError, WsClient


class Writer:
    """A client of another tenant writing all along; remembers every error it got."""

    def __init__(self, client: WsClient, project_id: str) -> None:
        self.client = client
        self.project_id = project_id
        self.acked = 0
        self.errors: list[Exception] = []
        self._running = True
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._running:
            try:
                await new_item(self.client, self.project_id, f"other {self.acked}")
            except ServerError as exc:
                if exc.code == "RATE_LIMITED":  # a well-behaved client: wait as told
                    await asyncio.sleep(exc.error.retry_after_ms / 1000)
                    continue
                self.errors.append(exc)
                return
            except (ConnectionError, TimeoutError) as exc:
                self.errors.append(exc)
                return
            self.acked += 1
            await asyncio.sleep(0.01)  # ~100 writes/s: under the connection's rate limit

    async def stop(self) -> None:
        self._running = False
        await self._task


async def test_restore_while_serving_touches_only_that_tenant(server: Server, tmp_path: Path):
    alice = await server.client()
    project = await create_project(alice, "PM", "Board")
    kept = [await new_item(alice, project.id, f"kept {n}") for n in range(3)]
    backup = tmp_path / "acme.backup"
    assert (await pm(server.data_dir, "backup", "acme", str(backup)))[0] == 0
    await new_item(alice, project.id, "after the backup")
    subscribed = await alice.request("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    bob = await server.client(tenant="other", user="bob")
    writer = Writer(bob, (await create_project(bob, "OT", "Other")).id)

    before = writer.acked
    code, _, err = await pm(server.data_dir, "restore", "acme", str(backup), "--yes")
    during = writer.acked - before
    await writer.stop()

    assert (code, err) == (0, ""), err
    assert await alice.closed() == 1013
    assert writer.errors == []  # the other tenant saw no error ...
    assert during > 0  # ... and kept writing while the restore ran
    carol = await server.client()
    listed = await carol.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project.id)
    )
    assert [item.id for item in listed.work_items.items] == [item.id for item in kept]
    resumed = await carol.request(
        "subscribe",
        commands_pb2.Subscribe(
            project_ids=[project.id],
            resume=commands_pb2.ResumePosition(epoch=subscribed.subscribed.epoch, seq=1),
        ),
    )
    assert resumed.subscribed.must_refetch


async def test_a_marked_tenant_is_refused_until_the_marker_goes(server: Server) -> None:
    alice = await server.client()
    await create_project(alice)
    marker = maintenance.marker(TenantPaths(server.data_dir), "acme")
    marker.touch()

    assert await alice.closed() == 1013
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.base_url + "/v1/ws",
            headers={
                "Authorization": f"Bearer {server.token()}",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ) as response,
    ):
        assert response.status == 503
        body = await response.json()
    assert body["code"] == "UNAVAILABLE"
    assert "being restored or deleted" in body["message"]
    other = await server.client(tenant="other")  # other tenants are served meanwhile
    await create_project(other)

    marker.unlink()
    again = await server.client()
    projects = await again.request("list_projects", commands_pb2.ListProjects())
    assert [p.key for p in projects.projects.projects] == ["PM"]


async def test_delete_while_serving_closes_the_tenant_and_removes_it(server: Server) -> None:
    alice = await server.client()
    await create_project(alice)

    code, out, err = await pm(server.data_dir, "delete", "acme", "--yes")

    assert (code, out, err) == (0, "deleted tenant acme\n", "")
    assert await alice.closed() == 1013
    assert not TenantPaths(server.data_dir).tenant_dir("acme").exists()
