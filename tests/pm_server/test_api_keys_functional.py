"""API keys over a real socket: create, connect with the key, write as its agent user
(activity and events name the agent and its kind), list, revoke (open connection closed
with 4003, new ones refused)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

KEY_SHAPE = re.compile(r"pmk\.acme\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]{43}")


async def create_key(
    admin: WsClient, name: str = "ci-bot", **fields: object
) -> commands_pb2.ApiKeyReply:
    reply = await admin.request(
        "create_api_key",
        commands_pb2.CreateApiKey(name=name, **fields),  # type: ignore[arg-type]
    )
    return reply.api_key


async def connect(server: Server, key: str) -> WsClient:
    client = await WsClient.connect(server.ws_url, key)
    server.clients.append(client)
    return client


async def refused_status(server: Server, key: str) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.ws_url, headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        return response.status, await response.json()


async def test_api_key_create_connect_write_revoke(server: Server) -> None:
    admin = await server.client("acme", "alice", admin=True)
    project = await create_project(admin, "PM")
    created = await create_key(admin, "ci-bot", display_name="CI bot")
    match = KEY_SHAPE.fullmatch(created.secret)
    assert match is not None
    assert match.group(1) == created.api_key.id
    assert created.api_key.prefix == f"pmk.acme.{created.api_key.id}"
    assert created.user.kind == entities_pb2.USER_KIND_AGENT
    agent_id = created.user.id
    await admin.request(
        "add_member",
        commands_pb2.AddMember(
            project_id=project.id, user_id=agent_id, role=entities_pb2.ROLE_EDITOR
        ),
    )
    await subscribe(admin, project.id)
    admin.drain_events()

    agent = await connect(server, created.secret)
    assert agent.welcome.user.id == agent_id
    assert agent.welcome.user.display_name == "CI bot"
    assert agent.welcome.user.kind == entities_pb2.USER_KIND_AGENT
    item = (
        await agent.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project.id,
                title="Built by the bot",
                type=entities_pb2.WORK_ITEM_TYPE_TASK,
            ),
        )
    ).work_item.item

    event = await admin.next_event()
    assert (event.actor_id, event.actor_kind) == (agent_id, entities_pb2.USER_KIND_AGENT)
    activity = (
        await admin.request(
            "list_activity",
            commands_pb2.ListActivity(
                entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id=item.id)
            ),
        )
    ).activity.entries
    assert [(a.actor_id, a.actor_kind) for a in activity] == [
        (agent_id, entities_pb2.USER_KIND_AGENT)
    ]
    human = (
        await admin.request("list_activity", commands_pb2.ListActivity(project_id=project.id))
    ).activity.entries
    assert {a.actor_kind for a in human if a.actor_id == "alice"} == {entities_pb2.USER_KIND_HUMAN}

    listed = (await admin.request("list_api_keys", commands_pb2.ListApiKeys())).api_keys.api_keys
    assert [(k.id, k.name) for k in listed] == [(created.api_key.id, "ci-bot")]
    assert listed[0].HasField("last_used_at")
    assert created.secret not in str(listed)

    revoked = (
        await admin.request(
            "revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=created.api_key.id)
        )
    ).api_key
    assert revoked.api_key.HasField("revoked_at")
    assert agent._reader is not None
    await asyncio.wait_for(agent._reader, timeout=5)
    assert agent.close_code == 4003
    assert await refused_status(server, created.secret) == (
        401,
        {"code": "UNAUTHENTICATED", "message": "invalid API key"},
    )
    assert (
        await admin.request("list_api_keys", commands_pb2.ListApiKeys())
    ).api_keys.api_keys == []
    every = await admin.request("list_api_keys", commands_pb2.ListApiKeys(include_revoked=True))
    assert [k.id for k in every.api_keys.api_keys] == [created.api_key.id]
    await admin.request("ping", commands_pb2.Ping(nonce=1))  # the admin's own connection stays


async def test_api_key_commands_need_a_tenant_admin(server: Server) -> None:
    admin = await server.client("acme", "alice", admin=True)
    created = await create_key(admin)
    bob = await server.client("acme", "bob")
    for name, command in [
        ("create_api_key", commands_pb2.CreateApiKey(name="mine")),
        ("list_api_keys", commands_pb2.ListApiKeys()),
        ("revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=created.api_key.id)),
    ]:
        error = await bob.error(name, command)
        assert error.code == envelope_pb2.FORBIDDEN, name
    # An agent without the tenant-admin flag cannot mint keys either.
    agent = await connect(server, created.secret)
    error = await agent.error("create_api_key", commands_pb2.CreateApiKey(name="more"))
    assert error.code == envelope_pb2.FORBIDDEN


async def test_api_key_names_are_unique_among_live_keys(server: Server) -> None:
    admin = await server.client("acme", "alice", admin=True)
    first = await create_key(admin, "deploy")
    error = await admin.error("create_api_key", commands_pb2.CreateApiKey(name=" deploy "))
    assert (error.code, error.entity) == (envelope_pb2.CONFLICT, "api_key")
    await admin.request("revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=first.api_key.id))
    again = await create_key(admin, "deploy")
    assert again.api_key.id != first.api_key.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_api_key_with_a_bad_name_is_a_validation_error(server: Server, name: str) -> None:
    admin = await server.client("acme", "alice", admin=True)
    error = await admin.error("create_api_key", commands_pb2.CreateApiKey(name=name))
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "name")


async def test_revoking_an_unknown_key_is_not_found(server: Server) -> None:
    admin = await server.client("acme", "alice", admin=True)
    error = await admin.error("revoke_api_key", commands_pb2.RevokeApiKey(api_key_id="nope"))
    assert (error.code, error.entity) == (envelope_pb2.NOT_FOUND, "api_key")


async def test_forged_and_foreign_keys_are_refused_and_create_nothing(server: Server) -> None:
    admin = await server.client("acme", "alice", admin=True)
    created = await create_key(admin)
    key_id = created.api_key.id
    before = sorted(p.name for p in (server.data_dir / "tenants").iterdir())
    forged = [
        f"pmk.acme.{key_id}.{'A' * 43}",  # right key id, wrong secret
        f"pmk.acme.nosuchkey.{created.secret[-43:]}",  # right secret, another id
        created.secret.replace("pmk.acme.", "pmk.ghost."),  # a tenant that does not exist
        created.secret.replace("pmk.acme.", "pmk.ACME."),  # not a tenant id
        created.secret[:-1],  # truncated
        "pmk." + "x" * 400,
    ]
    for key in forged:
        status, body = await refused_status(server, key)
        assert status == 401, key
        assert body["code"] == "UNAUTHENTICATED"
        assert created.secret[-43:] not in body["message"]
    assert sorted(p.name for p in (server.data_dir / "tenants").iterdir()) == before


async def test_a_key_connection_of_another_tenant_survives_a_revocation(
    server: Server, tmp_path: Path
) -> None:
    acme = await server.client("acme", "alice", admin=True)
    globex = await server.client("globex", "gina", admin=True)
    acme_key = await create_key(acme, "bot")
    globex_key = (
        await globex.request("create_api_key", commands_pb2.CreateApiKey(name="bot"))
    ).api_key
    globex_agent = await connect(server, globex_key.secret)
    await acme.request("revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=acme_key.api_key.id))
    # Same key id in another tenant's database cannot be revoked from acme either.
    error = await acme.error(
        "revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=globex_key.api_key.id)
    )
    assert error.code == envelope_pb2.NOT_FOUND
    assert (await globex_agent.request("ping", commands_pb2.Ping(nonce=7))).pong.nonce == 7
