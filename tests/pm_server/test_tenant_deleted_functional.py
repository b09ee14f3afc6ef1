"""A tenant deleted by an operator while its clients are connected: they are closed (4004)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pm_db.admin import delete_tenant
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server.app import close_deleted_tenants
from tests.pm_server.conftest import create_project, start_server


async def test_connections_of_a_deleted_tenant_are_closed_and_it_is_not_recreated(
    tmp_path: Path,
) -> None:
    srv, runner = await start_server(tmp_path / "data", max_open_tenants=1)
    try:
        doomed = await srv.client("doomed", "alice")
        idle = await srv.client("doomed", "bob")
        await create_project(doomed, "GONE")
        other = await srv.client("other", "carol")  # opening it evicts "doomed" (cap 1)
        await create_project(other, "STAY")
        assert srv.state.databases.open_tenants() == ["other"]
        await srv.state.databases.closed("doomed")  # evicted; it closes in the background

        delete_tenant(srv.state.databases.paths, "doomed")

        error = await doomed.error("list_projects", commands_pb2.ListProjects())
        assert (error.code, error.entity) == (envelope_pb2.NOT_FOUND, "tenant")
        assert doomed._reader is not None
        await asyncio.wait_for(doomed._reader, timeout=5)
        assert doomed.close_code == 4004
        assert not srv.state.databases.exists("doomed")  # not recreated empty

        assert close_deleted_tenants(srv.state) == 1  # bob, idle, is found by the watcher
        assert idle._reader is not None
        await asyncio.wait_for(idle._reader, timeout=5)
        assert idle.close_code == 4004
        assert (await other.request("ping", commands_pb2.Ping(nonce=1))).pong.nonce == 1
    finally:
        for client in srv.clients:
            await client.close()
        await runner.cleanup()
