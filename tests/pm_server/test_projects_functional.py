"""Projects over a real socket: create, update, archive, delete, get, list, and refusals."""

from __future__ import annotations

import json
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient


def changes_of(event: events_pb2.Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


async def add_member(
    admin: WsClient, project_id: str, user_id: str, role: entities_pb2.Role.ValueType
) -> None:
    await admin.request(
        "add_member", commands_pb2.AddMember(project_id=project_id, user_id=user_id, role=role)
    )


async def watcher(
    server: Server,
    admin: WsClient,
    project_id: str,
    user: str = "bob",
    role: Any = entities_pb2.ROLE_VIEWER,
) -> WsClient:
    """A second user, added to the project by ``admin`` with ``role``, subscribed to it."""
    client = await server.client("acme", user)
    await add_member(admin, project_id, user, role)
    await subscribe(client, project_id)
    return client


async def test_create_project_makes_creator_admin_with_default_lanes(server: Server) -> None:
    alice = await server.client("acme", "alice")
    reply = await alice.request(
        "create_project", commands_pb2.CreateProject(key="PM", name="Board", description="d")
    )
    project = reply.project.project
    assert (project.key, project.name, project.description) == ("PM", "Board", "d")
    assert project.status == entities_pb2.PROJECT_STATUS_ACTIVE
    assert project.created_by == "alice"
    assert project.version == 1

    members = await alice.request("list_members", commands_pb2.ListMembers(project_id=project.id))
    assert [(m.user_id, m.role) for m in members.members.members] == [
        ("alice", entities_pb2.ROLE_ADMIN)
    ]
    lanes = await alice.request(
        "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=project.id)
    )
    assert [lane.name for lane in lanes.swim_lanes.lanes] == [
        "Backlog",
        "To Do",
        "In Progress",
        "In Review",
        "Done",
    ]

    # A second connection resuming from the start receives the creation event.
    other = await server.client("acme", "alice")
    live = await subscribe(other, project.id)
    await other.request("unsubscribe", commands_pb2.Unsubscribe(project_ids=[project.id]))
    await other.request(
        "subscribe",
        commands_pb2.Subscribe(
            project_ids=[project.id], resume=commands_pb2.ResumePosition(epoch=live.epoch, seq=0)
        ),
    )
    event = await other.next_event()
    assert event.seq > 0
    assert event.entity_type == entities_pb2.ENTITY_TYPE_PROJECT
    assert event.action == entities_pb2.ACTION_CREATED
    assert event.actor_id == "alice"
    assert event.project == project
    member_id = members.members.members[0].id
    assert set(event.cascaded_ids) == {member_id, *(lane.id for lane in lanes.swim_lanes.lanes)}


async def test_create_project_with_duplicate_key_conflicts(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM")
    bob = await watcher(server, alice, project.id)
    error = await alice.error("create_project", commands_pb2.CreateProject(key="PM", name="Two"))
    assert error.code == envelope_pb2.CONFLICT
    await bob.no_event()
    listed = await alice.request("list_projects", commands_pb2.ListProjects())
    assert [p.key for p in listed.projects.projects] == ["PM"]


async def test_create_project_with_invalid_key_is_a_validation_error(server: Server) -> None:
    alice = await server.client("acme", "alice")
    error = await alice.error("create_project", commands_pb2.CreateProject(key="", name="x"))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == "key"


async def test_update_project_is_seen_with_field_changes(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM", "Old")
    bob = await watcher(server, alice, project.id)
    reply = await alice.request(
        "update_project",
        commands_pb2.UpdateProject(
            project_id=project.id, expected_version=1, name="New", description="text"
        ),
    )
    updated = reply.project.project
    assert (updated.name, updated.description, updated.version) == ("New", "text", 2)

    event = await bob.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action) == (
        entities_pb2.ENTITY_TYPE_PROJECT,
        entities_pb2.ACTION_UPDATED,
    )
    assert event.project == updated
    assert changes_of(event) == {"name": ("Old", "New"), "description": ("", "text")}


async def test_update_project_by_non_admin_is_forbidden(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    bob = await watcher(server, alice, project.id, "bob", entities_pb2.ROLE_EDITOR)
    error = await bob.error(
        "update_project", commands_pb2.UpdateProject(project_id=project.id, name="Mine")
    )
    assert error.code == envelope_pb2.FORBIDDEN
    assert error.rule == "role.admin"
    for name, cmd in [
        ("archive_project", commands_pb2.ArchiveProject(project_id=project.id)),
        ("delete_project", commands_pb2.DeleteProject(project_id=project.id)),
    ]:
        assert (await bob.error(name, cmd)).code == envelope_pb2.FORBIDDEN
    await bob.no_event()
    got = await alice.request("get_project", commands_pb2.GetProject(project_id=project.id))
    assert got.project.project.version == 1


async def test_update_project_without_fields_is_a_validation_error(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    error = await alice.error("update_project", commands_pb2.UpdateProject(project_id=project.id))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field


async def test_update_project_with_stale_version_conflicts_with_current(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM", "Old")
    bob = await watcher(server, alice, project.id)
    await alice.request(
        "update_project", commands_pb2.UpdateProject(project_id=project.id, name="Second")
    )
    await bob.next_event()
    error = await alice.error(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, expected_version=1, name="Third"),
    )
    assert error.code == envelope_pb2.CONFLICT
    assert error.current_version == 2
    assert error.WhichOneof("current") == "project"
    assert error.project.name == "Second"
    assert error.project.version == 2
    await bob.no_event()


async def test_archive_project_is_seen_and_hides_it_from_default_list(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    bob = await watcher(server, alice, project.id)
    reply = await alice.request(
        "archive_project", commands_pb2.ArchiveProject(project_id=project.id, expected_version=1)
    )
    assert reply.project.project.status == entities_pb2.PROJECT_STATUS_ARCHIVED
    event = await bob.next_event()
    assert event.action == entities_pb2.ACTION_UPDATED
    assert changes_of(event) == {"status": ("active", "archived")}

    for client in (alice, bob):
        default = await client.request("list_projects", commands_pb2.ListProjects())
        assert list(default.projects.projects) == []
        everything = await client.request(
            "list_projects", commands_pb2.ListProjects(include_archived=True)
        )
        assert [p.id for p in everything.projects.projects] == [project.id]


async def test_archive_project_with_stale_version_conflicts(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    error = await alice.error(
        "archive_project", commands_pb2.ArchiveProject(project_id=project.id, expected_version=9)
    )
    assert error.code == envelope_pb2.CONFLICT
    assert error.project.status == entities_pb2.PROJECT_STATUS_ACTIVE


async def test_delete_project_is_seen_and_then_gone(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    bob = await watcher(server, alice, project.id)
    reply = await alice.request(
        "delete_project", commands_pb2.DeleteProject(project_id=project.id, expected_version=1)
    )
    assert reply.project.project.HasField("deleted_at")
    event = await bob.next_event()
    assert (event.entity_type, event.action) == (
        entities_pb2.ENTITY_TYPE_PROJECT,
        entities_pb2.ACTION_DELETED,
    )
    assert event.entity_id == project.id
    assert event.project.HasField("deleted_at")

    for client in (alice, bob):
        error = await client.error("get_project", commands_pb2.GetProject(project_id=project.id))
        assert error.code == envelope_pb2.NOT_FOUND
        listed = await client.request(
            "list_projects", commands_pb2.ListProjects(include_archived=True)
        )
        assert list(listed.projects.projects) == []
    # The key is free again.
    again = await create_project(alice, project.key)
    assert again.id != project.id


async def test_delete_project_with_stale_version_conflicts(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    error = await alice.error(
        "delete_project", commands_pb2.DeleteProject(project_id=project.id, expected_version=5)
    )
    assert error.code == envelope_pb2.CONFLICT
    assert error.project.id == project.id
    got = await alice.request("get_project", commands_pb2.GetProject(project_id=project.id))
    assert not got.project.project.HasField("deleted_at")


async def test_get_project_by_id_and_by_key(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "ABC", "Alphabet")
    bob = await watcher(server, alice, project.id)
    for client in (alice, bob):
        by_id = await client.request("get_project", commands_pb2.GetProject(project_id=project.id))
        by_key = await client.request("get_project", commands_pb2.GetProject(key="ABC"))
        assert by_id.project.project == project
        assert by_key.project.project == project


async def test_get_project_without_id_or_key_is_a_validation_error(server: Server) -> None:
    alice = await server.client("acme", "alice")
    error = await alice.error("get_project", commands_pb2.GetProject())
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == "project_id"


async def test_non_member_gets_not_found_for_a_project(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "SECRET")
    carol = await server.client("acme", "carol")
    by_id = await carol.error("get_project", commands_pb2.GetProject(project_id=project.id))
    assert (by_id.code, by_id.entity, by_id.entity_id) == (
        envelope_pb2.NOT_FOUND,
        "project",
        project.id,
    )
    by_key = await carol.error("get_project", commands_pb2.GetProject(key="SECRET"))
    assert (by_key.code, by_key.entity, by_key.entity_id) == (
        envelope_pb2.NOT_FOUND,
        "project",
        "SECRET",
    )
    missing = await carol.error("get_project", commands_pb2.GetProject(key="NOPE"))
    assert (missing.code, missing.entity_id) == (envelope_pb2.NOT_FOUND, "NOPE")
    for name, cmd in [
        ("update_project", commands_pb2.UpdateProject(project_id=project.id, name="x")),
        ("archive_project", commands_pb2.ArchiveProject(project_id=project.id)),
        ("delete_project", commands_pb2.DeleteProject(project_id=project.id)),
    ]:
        assert (await carol.error(name, cmd)).code == envelope_pb2.NOT_FOUND
    listed = await carol.request("list_projects", commands_pb2.ListProjects())
    assert list(listed.projects.projects) == []


async def test_other_tenant_never_sees_a_project(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM")
    mallory = await server.client("evil", "alice", admin=True)
    for cmd in (commands_pb2.GetProject(project_id=project.id), commands_pb2.GetProject(key="PM")):
        assert (await mallory.error("get_project", cmd)).code == envelope_pb2.NOT_FOUND
    error = await mallory.error(
        "update_project", commands_pb2.UpdateProject(project_id=project.id, name="pwned")
    )
    assert error.code == envelope_pb2.NOT_FOUND
    listed = await mallory.request(
        "list_projects", commands_pb2.ListProjects(include_archived=True)
    )
    assert list(listed.projects.projects) == []
    got = await alice.request("get_project", commands_pb2.GetProject(project_id=project.id))
    assert got.project.project.name == project.name


async def test_list_projects_shows_only_the_callers_projects_with_seq(server: Server) -> None:
    alice = await server.client("acme", "alice")
    bob = await server.client("acme", "bob")
    first = await create_project(alice, "AAA")
    second = await create_project(alice, "BBB")
    own = await create_project(bob, "CCC")
    await add_member(alice, second.id, "bob", entities_pb2.ROLE_VIEWER)

    mine = await alice.request("list_projects", commands_pb2.ListProjects())
    assert [p.key for p in mine.projects.projects] == ["AAA", "BBB"]
    bobs = await bob.request("list_projects", commands_pb2.ListProjects())
    assert sorted(p.id for p in bobs.projects.projects) == sorted([second.id, own.id])
    assert first.id not in {p.id for p in bobs.projects.projects}

    # The seq is where the snapshot was read: subscribing from it misses nothing.
    head = await subscribe(alice, first.id)
    assert mine.projects.seq == head.seq > 0


async def test_tenant_admin_may_manage_any_project(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    boss = await server.client("acme", "boss", admin=True)
    bob = await watcher(server, alice, project.id)
    listed = await boss.request("list_projects", commands_pb2.ListProjects())
    assert [p.id for p in listed.projects.projects] == [project.id]
    reply = await boss.request(
        "update_project", commands_pb2.UpdateProject(project_id=project.id, name="Renamed")
    )
    assert reply.project.project.name == "Renamed"
    event = await bob.next_event()
    assert event.actor_id == "boss"
    assert changes_of(event) == {"name": ("Project", "Renamed")}


async def test_update_project_with_its_current_values_writes_nothing(server: Server) -> None:
    alice = await server.client()
    project = await create_project(alice, "SAME", "Same")
    await subscribe(alice, project.id)
    reply = await alice.request(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, expected_version=1, name="Same"),
    )
    assert (reply.project.project.version, reply.project.project.name) == (1, "Same")
    await alice.no_event()
