"""The WebSocket endpoint over a real socket: auth, welcome, bad input, idempotency, isolation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from pm_auth.tokens import TokenVerifier, load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project, start_server, subscribe
from tests.pm_server.wsclient import WsClient


async def project_count(server: Server, tenant: str = "acme") -> int:
    async with server.state.databases.use(tenant) as db:
        return await db.read(
            lambda uow: uow.conn.execute("SELECT count(*) FROM projects").fetchone()[0]
        )


# -- authentication on upgrade -------------------------------------------------


async def test_upgrade_without_token_is_refused_with_401(server: Server) -> None:
    async with aiohttp.ClientSession() as session, session.get(server.ws_url) as response:
        assert response.status == 401
        assert (await response.json())["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
async def test_upgrade_with_bad_token_is_refused_with_401(server: Server, token: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(server.ws_url, headers={"Authorization": f"Bearer {token}"})
    assert info.value.status == 401


async def test_token_signed_with_another_key_is_refused(server: Server) -> None:
    forged = mint_token(b"k" * 32, tenant_id="acme", user_id="mallory")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(server.ws_url, headers={"Authorization": f"Bearer {forged}"})
    assert info.value.status == 401


async def test_welcome_names_user_tenant_and_limits(server: Server) -> None:
    client = await server.client("acme", "alice")
    welcome = client.welcome
    assert welcome.protocol_version == 1
    assert welcome.tenant_id == "acme"
    assert welcome.user.id == "alice"
    assert welcome.user.display_name == "Alice"
    assert welcome.connection_id
    assert welcome.heartbeat_interval_ms == 5000
    assert welcome.max_frame_bytes == 65536


async def test_permessage_deflate_offered_by_a_browser_is_not_negotiated(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            server.ws_url,
            headers={"Authorization": f"Bearer {server.token('acme', 'alice')}"},
            compress=15,  # offer permessage-deflate, as every browser does
        )
        try:
            welcome = envelope_pb2.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
            assert welcome.WhichOneof("kind") == "welcome"
            assert ws.compress == 0  # the server accepted without the extension
        finally:
            await ws.close()


@pytest.mark.parametrize("how", ["subprotocol", "query"])
async def test_browser_token_transports_are_accepted(server: Server, how: str) -> None:
    token = server.token("acme", "carol")
    async with aiohttp.ClientSession() as session:
        if how == "subprotocol":
            ws = await session.ws_connect(server.ws_url, protocols=("pm.v1", f"bearer.{token}"))
            assert ws.protocol == "pm.v1"
        else:
            ws = await session.ws_connect(f"{server.ws_url}?access_token={token}")
        first = envelope_pb2.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
        await ws.close()
    assert first.welcome.user.id == "carol"


# -- bad input: a coded error each, the connection keeps working ---------------


async def assert_still_works(client: WsClient) -> None:
    reply = await client.request("ping", commands_pb2.Ping(nonce=7))
    assert reply.pong.nonce == 7


async def next_error(client: WsClient) -> envelope_pb2.Error:
    for _ in range(100):
        for frame in client.frames:
            if frame.WhichOneof("kind") == "error":
                client.frames.remove(frame)
                return frame.error
        await asyncio.sleep(0.02)
    raise AssertionError("no error frame arrived")


@pytest.mark.parametrize(
    "data", [b"\xff\xff\xff", b"\x0a\x05ab", b"not protobuf at all", b"\x08" * 3]
)
async def test_malformed_bytes_get_invalid_message(server: Server, data: bytes) -> None:
    client = await server.client()
    await client.send_raw(data)
    error = await next_error(client)
    assert envelope_pb2.ErrorCode.Name(error.code) == "INVALID_MESSAGE"
    await assert_still_works(client)
    assert await project_count(server) == 0


async def test_text_frame_gets_invalid_message(server: Server) -> None:
    client = await server.client()
    await client.ws.send_str("hello")
    error = await next_error(client)
    assert error.code == envelope_pb2.INVALID_MESSAGE
    assert "binary" in error.message
    await assert_still_works(client)


async def test_envelope_without_command_gets_invalid_message(server: Server) -> None:
    client = await server.client()
    await client.send_raw(envelope_pb2.ClientMessage(request_id="x1").SerializeToString())
    error = await next_error(client)
    assert (error.code, error.request_id) == (envelope_pb2.INVALID_MESSAGE, "x1")
    await assert_still_works(client)


async def test_unknown_command_field_gets_invalid_message(server: Server) -> None:
    client = await server.client()
    # request_id "u1", then field 999 (a command this server does not know), length 0.
    frame = b"\x0a\x02u1" + b"\xba\x3e\x00"
    await client.send_raw(frame)
    error = await next_error(client)
    assert (error.code, error.request_id) == (envelope_pb2.INVALID_MESSAGE, "u1")
    await assert_still_works(client)


async def test_missing_request_id_and_unknown_protocol_version_are_refused(
    server: Server,
) -> None:
    client = await server.client()
    no_id = envelope_pb2.ClientMessage(ping=commands_pb2.Ping())
    await client.send_raw(no_id.SerializeToString())
    error = await next_error(client)
    assert error.code == envelope_pb2.INVALID_MESSAGE
    assert "request_id" in error.message
    future = envelope_pb2.ClientMessage(
        request_id="v9", protocol_version=9, ping=commands_pb2.Ping()
    )
    await client.send_raw(future.SerializeToString())
    error = await next_error(client)
    assert error.code == envelope_pb2.INVALID_MESSAGE
    assert "protocol version 9" in error.message
    await assert_still_works(client)


async def test_over_long_request_id_is_refused_and_echoed_cut_to_128_characters(
    server: Server,
) -> None:
    client = await server.client()
    long_id = "r" * 128 + "x" * 60_000
    await client.send_raw(
        envelope_pb2.ClientMessage(request_id=long_id, ping=commands_pb2.Ping()).SerializeToString()
    )
    error = await next_error(client)
    assert error.code == envelope_pb2.INVALID_MESSAGE
    assert error.request_id == "r" * 128
    await assert_still_works(client)


async def test_missing_field_gets_validation_error_and_changes_nothing(server: Server) -> None:
    client = await server.client()
    error = await client.error("create_project", commands_pb2.CreateProject(name="No key"))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == "key"
    await assert_still_works(client)
    assert await project_count(server) == 0


async def test_oversized_frame_closes_with_1009(server: Server) -> None:
    client = await server.client()
    await client.send_raw(b"\x00" * (65_536 + 1))
    assert client._reader is not None
    await asyncio.wait_for(client._reader, timeout=5)
    assert client.close_code == 1009
    again = await server.client()
    await assert_still_works(again)


# -- idempotency -----------------------------------------------------------------


async def test_repeated_request_id_returns_the_first_reply_and_writes_once(
    server: Server,
) -> None:
    client = await server.client()
    command = commands_pb2.CreateProject(key="IDEM", name="Once")
    first = await client.request("create_project", command, request_id="same-id")
    second = await client.request("create_project", command, request_id="same-id")
    assert first == second
    assert await project_count(server) == 1


async def test_twenty_concurrent_duplicates_write_once(server: Server) -> None:
    client = await server.client()
    command = commands_pb2.CreateProject(key="RACE", name="Race")
    envelope = envelope_pb2.ClientMessage(request_id="dup", create_project=command)
    data = envelope.SerializeToString()
    await asyncio.gather(*(client.send_raw(data) for _ in range(20)))
    replies = []
    for _ in range(200):
        replies = [f for f in client.frames if f.WhichOneof("kind") in {"reply", "error"}]
        if len(replies) == 20:
            break
        await asyncio.sleep(0.02)
    assert len(replies) == 20
    assert all(f.WhichOneof("kind") == "reply" for f in replies)
    assert len({f.reply.SerializeToString() for f in replies}) == 1
    assert await project_count(server) == 1


async def test_request_ids_are_per_user(server: Server) -> None:
    alice = await server.client(user="alice")
    bob = await server.client(user="bob")
    a = await alice.request(
        "create_project", commands_pb2.CreateProject(key="AA", name="A"), request_id="r"
    )
    b = await bob.request(
        "create_project", commands_pb2.CreateProject(key="BB", name="B"), request_id="r"
    )
    assert a.project.project.key == "AA"
    assert b.project.project.key == "BB"


# -- isolation ---------------------------------------------------------------------


async def test_other_tenant_never_sees_a_project_whatever_id_it_sends(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "SEC")
    mallory = await server.client("evil", "alice")  # same user id, other tenant
    error = await mallory.error("get_project", commands_pb2.GetProject(project_id=project.id))
    assert error.code == envelope_pb2.NOT_FOUND
    error = await mallory.error("get_project", commands_pb2.GetProject(key="SEC"))
    assert error.code == envelope_pb2.NOT_FOUND
    error = await mallory.error("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    assert error.code == envelope_pb2.NOT_FOUND
    listed = await mallory.request("list_projects", commands_pb2.ListProjects())
    assert list(listed.projects.projects) == []


async def test_non_member_cannot_read_or_subscribe(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "PRIV")
    eve = await server.client(user="eve")
    error = await eve.error("get_project", commands_pb2.GetProject(project_id=project.id))
    assert (error.code, error.entity_id) == (envelope_pb2.NOT_FOUND, project.id)
    error = await eve.error("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    assert error.code == envelope_pb2.NOT_FOUND
    assert "eve" not in [
        p.id
        for p in (await eve.request("list_projects", commands_pb2.ListProjects())).projects.projects
    ]


async def test_stale_version_conflict_carries_the_current_project(server: Server) -> None:
    alice = await server.client()
    project = await create_project(alice, "VER")
    await alice.request(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, expected_version=1, name="Second"),
    )
    error = await alice.error(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, expected_version=1, name="Stale"),
    )
    assert error.code == envelope_pb2.CONFLICT
    assert error.current_version == 2
    assert error.WhichOneof("current") == "project"
    assert error.project.name == "Second"


# -- http surfaces -------------------------------------------------------------------


async def test_readyz_and_metrics(server: Server) -> None:
    client = await server.client()
    await subscribe(client, (await create_project(client, "MET")).id)
    async with aiohttp.ClientSession() as session:
        async with session.get(server.base_url + "/readyz") as response:
            assert response.status == 200
        async with session.get(server.base_url + "/metrics") as response:
            text = await response.text()
    assert "pm_connections 1.0" in text
    assert 'pm_commands_total{command="create_project",outcome="ok"} 1.0' in text
    assert "pm_open_tenants 1.0" in text
    assert "pm_events_published_total 1.0" in text
    assert "pm_command_seconds_bucket" in text


async def test_peer_that_stops_answering_pings_is_closed(tmp_path: Path) -> None:
    srv, runner = await start_server(tmp_path / "data", heartbeat_seconds=0.2)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                srv.ws_url, headers={"Authorization": f"Bearer {srv.token()}"}, autoping=False
            )
            # Never read again: the server's pings go unanswered.
            for _ in range(100):
                if not srv.state.connections:
                    break
                await asyncio.sleep(0.05)
            assert not srv.state.connections
            await ws.close()
    finally:
        await runner.cleanup()


def test_pm_token_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    env = {**os.environ, "PM_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pm_server",
            "token",
            "--tenant",
            "acme",
            "--user",
            "bob",
            "--name",
            "Bob B",
            "--admin",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    principal = TokenVerifier(load_or_create_signing_key(tmp_path)).verify(done.stdout.strip())
    assert (principal.tenant_id, principal.user_id, principal.display_name) == (
        "acme",
        "bob",
        "Bob B",
    )
    assert principal.is_tenant_admin
    refused = subprocess.run(
        [sys.executable, "-m", "pm_server", "token", "--tenant", "../etc", "--user", "bob"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert "tenant id must match" in refused.stderr
