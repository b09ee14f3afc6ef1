"""Project members over a real socket: add, change role, remove, list, and refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

VIEWER = entities_pb2.ROLE_VIEWER
EDITOR = entities_pb2.ROLE_EDITOR
ADMIN = entities_pb2.ROLE_ADMIN


def changes_of(event: events_pb2.Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


@dataclass
class Board:
    project: entities_pb2.Project
    alice: WsClient  # the project's admin
    bob: WsClient  # connected (so provisioned), not a member yet
    dave: WsClient  # a viewer subscribed to the project: the second client that watches


async def board(server: Server) -> Board:
    alice = await server.client("acme", "alice")
    bob = await server.client("acme", "bob")
    dave = await server.client("acme", "dave")
    project = await create_project(alice)
    await add(alice, project.id, "dave", VIEWER)
    await subscribe(dave, project.id)
    return Board(project, alice, bob, dave)


async def add(
    client: WsClient, project_id: str, user_id: str, role: Any
) -> entities_pb2.ProjectMember:
    reply = await client.request(
        "add_member", commands_pb2.AddMember(project_id=project_id, user_id=user_id, role=role)
    )
    return reply.member.member


# -- add_member ----------------------------------------------------------------


async def test_add_member_is_seen_and_grants_access(server: Server) -> None:
    b = await board(server)
    assert (
        await b.bob.error("get_project", commands_pb2.GetProject(project_id=b.project.id))
    ).code == envelope_pb2.NOT_FOUND

    member = await add(b.alice, b.project.id, "bob", EDITOR)
    assert (member.project_id, member.user_id, member.role, member.version) == (
        b.project.id,
        "bob",
        EDITOR,
        1,
    )
    event = await b.dave.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action) == (
        entities_pb2.ENTITY_TYPE_MEMBER,
        entities_pb2.ACTION_CREATED,
    )
    assert event.project_id == b.project.id
    assert event.actor_id == "alice"
    assert event.member == member

    got = await b.bob.request("get_project", commands_pb2.GetProject(project_id=b.project.id))
    assert got.project.project.id == b.project.id


async def test_add_member_by_non_admin_is_forbidden(server: Server) -> None:
    b = await board(server)
    await add(b.alice, b.project.id, "bob", EDITOR)
    await b.dave.next_event()
    await server.client("acme", "carol")
    for client in (b.bob, b.dave):  # an editor and a viewer
        error = await client.error(
            "add_member",
            commands_pb2.AddMember(project_id=b.project.id, user_id="carol", role=ADMIN),
        )
        assert error.code == envelope_pb2.FORBIDDEN
        assert error.rule == "role.admin"
    await b.dave.no_event()


async def test_add_member_twice_conflicts(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "add_member",
        commands_pb2.AddMember(project_id=b.project.id, user_id="dave", role=EDITOR),
    )
    assert error.code == envelope_pb2.CONFLICT
    await b.dave.no_event()


async def test_add_member_of_unknown_user_is_not_found(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "add_member",
        commands_pb2.AddMember(project_id=b.project.id, user_id="ghost", role=VIEWER),
    )
    assert (error.code, error.entity, error.entity_id) == (envelope_pb2.NOT_FOUND, "user", "ghost")
    await b.dave.no_event()


async def test_add_member_without_role_is_a_validation_error(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "add_member", commands_pb2.AddMember(project_id=b.project.id, user_id="bob")
    )
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "role")
    await b.dave.no_event()


async def test_add_member_to_a_project_one_cannot_see_is_not_found(server: Server) -> None:
    b = await board(server)
    for client in (b.bob, await server.client("other", "alice", admin=True)):
        error = await client.error(
            "add_member",
            commands_pb2.AddMember(project_id=b.project.id, user_id="bob", role=ADMIN),
        )
        assert (error.code, error.entity, error.entity_id) == (
            envelope_pb2.NOT_FOUND,
            "project",
            b.project.id,
        )
    await b.dave.no_event()


# -- change_member_role ----------------------------------------------------------


async def test_change_member_role_is_seen_with_field_change(server: Server) -> None:
    b = await board(server)
    await add(b.alice, b.project.id, "bob", VIEWER)
    await b.dave.next_event()
    lanes = await b.alice.request(
        "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=b.project.id)
    )
    review = lanes.swim_lanes.lanes[3].id
    rename = commands_pb2.UpdateSwimLane(lane_id=review, name="QA")
    assert (await b.bob.error("update_swim_lane", rename)).code == envelope_pb2.FORBIDDEN

    reply = await b.alice.request(
        "change_member_role",
        commands_pb2.ChangeMemberRole(
            project_id=b.project.id, user_id="bob", expected_version=1, role=EDITOR
        ),
    )
    member = reply.member.member
    assert (member.user_id, member.role, member.version) == ("bob", EDITOR, 2)
    event = await b.dave.next_event()
    assert (event.entity_type, event.action) == (
        entities_pb2.ENTITY_TYPE_MEMBER,
        entities_pb2.ACTION_UPDATED,
    )
    assert event.member == member
    assert changes_of(event) == {"role": ("viewer", "editor")}

    await b.bob.request("update_swim_lane", rename)  # the new role holds at once


async def test_change_member_role_to_the_role_held_writes_nothing(server: Server) -> None:
    b = await board(server)
    await add(b.alice, b.project.id, "bob", VIEWER)
    await b.dave.next_event()
    reply = await b.alice.request(
        "change_member_role",
        commands_pb2.ChangeMemberRole(
            project_id=b.project.id, user_id="bob", expected_version=1, role=VIEWER
        ),
    )
    assert (reply.member.member.role, reply.member.member.version) == (VIEWER, 1)
    await b.dave.no_event()


async def test_change_member_role_by_non_admin_is_forbidden(server: Server) -> None:
    b = await board(server)
    error = await b.dave.error(
        "change_member_role",
        commands_pb2.ChangeMemberRole(project_id=b.project.id, user_id="dave", role=ADMIN),
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.dave.no_event()


async def test_change_member_role_with_stale_version_conflicts_with_current(
    server: Server,
) -> None:
    b = await board(server)
    await b.alice.request(
        "change_member_role",
        commands_pb2.ChangeMemberRole(project_id=b.project.id, user_id="dave", role=EDITOR),
    )
    await b.dave.next_event()
    error = await b.alice.error(
        "change_member_role",
        commands_pb2.ChangeMemberRole(
            project_id=b.project.id, user_id="dave", expected_version=1, role=ADMIN
        ),
    )
    assert error.code == envelope_pb2.CONFLICT
    assert error.current_version == 2
    assert error.WhichOneof("current") == "member"
    assert (error.member.user_id, error.member.role) == ("dave", EDITOR)
    await b.dave.no_event()


async def test_demoting_the_last_admin_is_refused(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "change_member_role",
        commands_pb2.ChangeMemberRole(project_id=b.project.id, user_id="alice", role=VIEWER),
    )
    assert (error.code, error.field, error.rule) == (
        envelope_pb2.VALIDATION_ERROR,
        "role",
        "member.last_admin",
    )
    await b.dave.no_event()


async def test_change_role_of_a_non_member_is_not_found(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "change_member_role",
        commands_pb2.ChangeMemberRole(project_id=b.project.id, user_id="bob", role=EDITOR),
    )
    assert (error.code, error.entity, error.entity_id) == (envelope_pb2.NOT_FOUND, "member", "bob")


# -- remove_member ---------------------------------------------------------------


async def test_remove_member_is_seen_and_revokes_access(server: Server) -> None:
    b = await board(server)
    added = await add(b.alice, b.project.id, "bob", EDITOR)
    await b.dave.next_event()
    reply = await b.alice.request(
        "remove_member",
        commands_pb2.RemoveMember(project_id=b.project.id, user_id="bob", expected_version=1),
    )
    removed = reply.member.member
    assert removed.id == added.id
    assert removed.HasField("deleted_at")
    event = await b.dave.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        entities_pb2.ENTITY_TYPE_MEMBER,
        entities_pb2.ACTION_DELETED,
        added.id,
    )
    assert event.member == removed

    error = await b.bob.error("get_project", commands_pb2.GetProject(project_id=b.project.id))
    assert error.code == envelope_pb2.NOT_FOUND
    # A removed user may be added again, as a new membership.
    again = await add(b.alice, b.project.id, "bob", VIEWER)
    assert again.id != added.id


async def test_remove_member_by_non_admin_is_forbidden(server: Server) -> None:
    b = await board(server)
    error = await b.dave.error(
        "remove_member", commands_pb2.RemoveMember(project_id=b.project.id, user_id="alice")
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.dave.no_event()


async def test_remove_member_with_stale_version_conflicts(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "remove_member",
        commands_pb2.RemoveMember(project_id=b.project.id, user_id="dave", expected_version=3),
    )
    assert (error.code, error.member.user_id, error.member.version) == (
        envelope_pb2.CONFLICT,
        "dave",
        1,
    )
    await b.dave.no_event()


async def test_removing_the_last_admin_is_refused(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "remove_member", commands_pb2.RemoveMember(project_id=b.project.id, user_id="alice")
    )
    assert (error.code, error.rule) == (envelope_pb2.VALIDATION_ERROR, "member.last_admin")
    await b.dave.no_event()


async def test_member_commands_from_another_tenant_are_not_found(server: Server) -> None:
    b = await board(server)
    mallory = await server.client("evil", "alice", admin=True)
    for name, cmd in [
        (
            "change_member_role",
            commands_pb2.ChangeMemberRole(project_id=b.project.id, user_id="dave", role=ADMIN),
        ),
        ("remove_member", commands_pb2.RemoveMember(project_id=b.project.id, user_id="dave")),
        ("list_members", commands_pb2.ListMembers(project_id=b.project.id)),
    ]:
        assert (await mallory.error(name, cmd)).code == envelope_pb2.NOT_FOUND
    await b.dave.no_event()


# -- list_members ----------------------------------------------------------------


async def test_list_members_for_any_member_with_seq(server: Server) -> None:
    b = await board(server)
    await add(b.alice, b.project.id, "bob", EDITOR)
    last = await b.dave.next_event()
    for client in (b.alice, b.dave):
        reply = await client.request(
            "list_members", commands_pb2.ListMembers(project_id=b.project.id)
        )
        members = reply.members
        assert [(m.user_id, m.role) for m in members.members] == [
            ("alice", ADMIN),
            ("dave", VIEWER),
            ("bob", EDITOR),
        ]
        assert members.seq == last.seq


async def test_list_members_of_a_project_one_is_not_in_is_not_found(server: Server) -> None:
    b = await board(server)
    error = await b.bob.error("list_members", commands_pb2.ListMembers(project_id=b.project.id))
    assert (error.code, error.entity, error.entity_id) == (
        envelope_pb2.NOT_FOUND,
        "project",
        b.project.id,
    )
