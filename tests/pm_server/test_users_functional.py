"""list_users over a real socket: names for everyone, emails only where shared, kinds and
activity, a text filter; invite_user by tenant admins (the invited user is listed, inactive,
and can be added as a member before it ever signs in)."""

from __future__ import annotations

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.wsclient import WsClient


async def users_seen_by(
    client: WsClient, query: str = "", limit: int = 0
) -> dict[str, commands_pb2.DirectoryUser]:
    reply = await client.request("list_users", commands_pb2.ListUsers(query=query, limit=limit))
    return {entry.user.id: entry for entry in reply.users.users}


async def connect(
    server: Server, tenant: str, user: str, email: str, admin: bool = False
) -> WsClient:
    token = mint_token(
        load_or_create_signing_key(server.data_dir),
        tenant_id=tenant,
        user_id=user,
        name=user.title(),
        email=email,
        tenant_admin=admin,
    )
    client = await WsClient.connect(server.ws_url, token)
    server.clients.append(client)
    return client


async def test_emails_are_shown_to_project_peers_and_tenant_admins_only(server: Server) -> None:
    alice = await connect(server, "acme", "alice", "alice@acme.test")
    bob = await connect(server, "acme", "bob", "bob@acme.test")
    carol = await connect(server, "acme", "carol", "carol@acme.test")
    admin = await connect(server, "acme", "root", "root@acme.test", admin=True)
    project = await create_project(alice, "PM")
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id="bob", role=entities_pb2.ROLE_VIEWER),
    )
    seen_by_bob = await users_seen_by(bob)
    assert set(seen_by_bob) == {"alice", "bob", "carol", "root"}
    assert seen_by_bob["alice"].user.email == "alice@acme.test"  # a shared project
    assert seen_by_bob["bob"].user.email == "bob@acme.test"  # oneself
    assert not seen_by_bob["carol"].user.HasField("email")
    assert seen_by_bob["carol"].user.display_name == "Carol"
    assert all(
        e.active and e.user.kind == entities_pb2.USER_KIND_HUMAN for e in seen_by_bob.values()
    )
    seen_by_carol = await users_seen_by(carol)
    assert not seen_by_carol["alice"].user.HasField("email")
    seen_by_admin = await users_seen_by(admin)
    assert {u: e.user.email for u, e in seen_by_admin.items()} == {
        "alice": "alice@acme.test",
        "bob": "bob@acme.test",
        "carol": "carol@acme.test",
        "root": "root@acme.test",
    }
    # A hidden email cannot be probed through the filter; a name can be found.
    assert await users_seen_by(carol, "alice@acme") == {}
    assert set(await users_seen_by(bob, "ALICE@acme")) == {"alice"}
    assert set(await users_seen_by(carol, "car")) == {"carol"}
    assert len(await users_seen_by(admin, limit=2)) == 2
    # Another tenant's users are never listed.
    stranger = await connect(server, "globex", "gina", "gina@globex.test")
    assert set(await users_seen_by(stranger)) == {"gina"}


async def test_list_users_refuses_a_negative_limit_or_a_huge_query(server: Server) -> None:
    alice = await server.client("acme", "alice")
    error = await alice.error("list_users", commands_pb2.ListUsers(limit=-1))
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "limit")
    error = await alice.error("list_users", commands_pb2.ListUsers(query="x" * 201))
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "query")


async def test_invited_user_is_listed_inactive_and_can_be_added_as_a_member(server: Server) -> None:
    admin = await server.client("acme", "root", admin=True)
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM")
    invited = (
        await admin.request(
            "invite_user", commands_pb2.InviteUser(email="Dora@Example.test", display_name="Dora")
        )
    ).invitation
    assert invited.token.startswith(f"pmi.acme.{invited.invitation_id}.")
    assert invited.link.endswith(f"/accept#token={invited.token}")
    assert invited.user.kind == entities_pb2.USER_KIND_HUMAN
    dora = invited.user.id
    entry = (await users_seen_by(alice, "dora"))[dora]
    assert not entry.active
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id=dora, role=entities_pb2.ROLE_EDITOR),
    )
    assert (await users_seen_by(alice, "dora@example"))[dora].user.email == "Dora@Example.test"
    # Inviting the pending email again (any case) replaces the invitation, same user.
    again = (
        await admin.request("invite_user", commands_pb2.InviteUser(email="dora@example.TEST"))
    ).invitation
    assert again.user.id == dora
    assert again.invitation_id != invited.invitation_id


async def test_invite_user_needs_a_tenant_admin_and_an_email(server: Server) -> None:
    alice = await server.client("acme", "alice")
    error = await alice.error("invite_user", commands_pb2.InviteUser(email="x@example.test"))
    assert error.code == envelope_pb2.FORBIDDEN
    admin = await server.client("acme", "root", admin=True)
    for email in ["", "nobody", "a@b", "two@@example.test", "sp ace@example.test"]:
        error = await admin.error("invite_user", commands_pb2.InviteUser(email=email))
        assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "email"), email
