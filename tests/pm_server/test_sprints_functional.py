"""Sprints over a real socket: every command, its refusals, and the events a watcher sees.

Setup: alice creates the project (admin), bob is an editor, carol a viewer
subscribed to the project (the second client that sees every event), dave a
user of the same tenant outside the project, and "alice" of another tenant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

import pytest

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

PLANNED = entities_pb2.SPRINT_STATUS_PLANNED
ACTIVE = entities_pb2.SPRINT_STATUS_ACTIVE
COMPLETED = entities_pb2.SPRINT_STATUS_COMPLETED
CANCELLED = entities_pb2.SPRINT_STATUS_CANCELLED
SPRINT = entities_pb2.ENTITY_TYPE_SPRINT
Status: TypeAlias = entities_pb2.SprintStatus.ValueType


@dataclass
class Board:
    alice: WsClient  # admin
    bob: WsClient  # editor
    carol: WsClient  # viewer, subscribed
    dave: WsClient  # same tenant, not a member
    outsider: WsClient  # another tenant
    project: entities_pb2.Project


@pytest.fixture
async def board(server: Server) -> Board:
    alice = await server.client(user="alice")
    bob = await server.client(user="bob")
    carol = await server.client(user="carol")
    dave = await server.client(user="dave")
    outsider = await server.client(tenant="other", user="alice")
    project = await create_project(alice, "SPR", "Sprints")
    for user, role in (("bob", entities_pb2.ROLE_EDITOR), ("carol", entities_pb2.ROLE_VIEWER)):
        await alice.request(
            "add_member", commands_pb2.AddMember(project_id=project.id, user_id=user, role=role)
        )
    await subscribe(carol, project.id)
    return Board(alice, bob, carol, dave, outsider, project)


def code(error: envelope_pb2.Error) -> str:
    return envelope_pb2.ErrorCode.Name(error.code)


def changes(event: events_pb2.Event) -> dict[str, tuple[object, object]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


async def create_sprint(board: Board, name: str = "Sprint 1") -> entities_pb2.Sprint:
    reply = await board.bob.request(
        "create_sprint", commands_pb2.CreateSprint(project_id=board.project.id, name=name)
    )
    await board.carol.next_event()
    return reply.sprint.sprint


async def transition(board: Board, sprint_id: str, status: Status) -> entities_pb2.Sprint:
    reply = await board.bob.request(
        "transition_sprint", commands_pb2.TransitionSprint(sprint_id=sprint_id, status=status)
    )
    await board.carol.next_event()
    return reply.sprint.sprint


async def test_create_sprint_replies_and_the_watcher_sees_it(board: Board) -> None:
    starts = datetime(2030, 1, 6, tzinfo=UTC)
    reply = await board.bob.request(
        "create_sprint",
        commands_pb2.CreateSprint(
            project_id=board.project.id,
            name="Sprint 1",
            goal="ship",
            starts_at=to_timestamp(starts),
            ends_at=to_timestamp(starts + timedelta(days=14)),
        ),
    )
    sprint = reply.sprint.sprint
    assert (sprint.name, sprint.goal, sprint.status, sprint.version) == (
        "Sprint 1",
        "ship",
        PLANNED,
        1,
    )
    assert sprint.starts_at.ToDatetime(UTC) == starts
    event = await board.carol.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.entity_id) == (
        SPRINT,
        entities_pb2.ACTION_CREATED,
        sprint.id,
    )
    assert event.actor_id == "bob"
    assert event.sprint == sprint


async def test_create_sprint_refusals_write_nothing(board: Board) -> None:
    pid = board.project.id
    viewer = await board.carol.error(
        "create_sprint", commands_pb2.CreateSprint(project_id=pid, name="x")
    )
    assert (code(viewer), viewer.rule) == ("FORBIDDEN", "role.editor")
    starts = datetime(2030, 1, 6, tzinfo=UTC)
    backwards = await board.bob.error(
        "create_sprint",
        commands_pb2.CreateSprint(
            project_id=pid,
            name="x",
            starts_at=to_timestamp(starts),
            ends_at=to_timestamp(starts - timedelta(days=1)),
        ),
    )
    assert (code(backwards), backwards.field) == ("VALIDATION_ERROR", "ends_at")
    for client in (board.dave, board.outsider):
        hidden = await client.error(
            "create_sprint", commands_pb2.CreateSprint(project_id=pid, name="x")
        )
        assert (code(hidden), hidden.entity, hidden.entity_id) == ("NOT_FOUND", "project", pid)
    await board.carol.no_event()
    listed = await board.alice.request("list_sprints", commands_pb2.ListSprints(project_id=pid))
    assert list(listed.sprints.sprints) == []


async def test_update_sprint_sends_field_level_changes(board: Board) -> None:
    sprint = await create_sprint(board)
    ends = datetime(2030, 2, 1, tzinfo=UTC)
    reply = await board.bob.request(
        "update_sprint",
        commands_pb2.UpdateSprint(
            sprint_id=sprint.id,
            expected_version=1,
            name="Renamed",
            ends_at=to_timestamp(ends),
        ),
    )
    updated = reply.sprint.sprint
    assert (updated.name, updated.version) == ("Renamed", 2)
    event = await board.carol.next_event()
    assert (event.entity_type, event.action) == (SPRINT, entities_pb2.ACTION_UPDATED)
    assert changes(event) == {
        "name": ("Sprint 1", "Renamed"),
        "ends_at": (None, "2030-02-01T00:00:00Z"),
    }
    assert event.sprint == updated
    cleared = await board.bob.request(
        "update_sprint", commands_pb2.UpdateSprint(sprint_id=sprint.id, clear_ends_at=True)
    )
    assert not cleared.sprint.sprint.HasField("ends_at")
    assert changes(await board.carol.next_event()) == {"ends_at": ("2030-02-01T00:00:00Z", None)}


async def test_update_sprint_with_stale_version_conflicts_with_the_current_sprint(
    board: Board,
) -> None:
    sprint = await create_sprint(board)
    await board.bob.request(
        "update_sprint", commands_pb2.UpdateSprint(sprint_id=sprint.id, goal="first")
    )
    await board.carol.next_event()
    error = await board.bob.error(
        "update_sprint",
        commands_pb2.UpdateSprint(sprint_id=sprint.id, expected_version=1, goal="second"),
    )
    assert (code(error), error.entity_id, error.current_version) == ("CONFLICT", sprint.id, 2)
    assert error.WhichOneof("current") == "sprint"
    assert error.sprint.goal == "first"
    await board.carol.no_event()


async def test_update_sprint_refused_to_viewer_non_member_and_other_tenant(board: Board) -> None:
    sprint = await create_sprint(board)
    command = commands_pb2.UpdateSprint(sprint_id=sprint.id, name="nope")
    assert code(await board.carol.error("update_sprint", command)) == "FORBIDDEN"
    for client in (board.dave, board.outsider):
        hidden = await client.error("update_sprint", command)
        assert (code(hidden), hidden.entity, hidden.entity_id) == ("NOT_FOUND", "sprint", sprint.id)
    empty = await board.bob.error("update_sprint", commands_pb2.UpdateSprint(sprint_id=sprint.id))
    assert code(empty) == "VALIDATION_ERROR"
    await board.carol.no_event()


@pytest.mark.parametrize(
    ("path", "target", "refused_rule"),
    [
        ((), ACTIVE, ""),
        ((), CANCELLED, ""),
        ((ACTIVE,), COMPLETED, ""),
        ((ACTIVE,), CANCELLED, ""),
        ((), COMPLETED, "sprint.transition"),
        ((), PLANNED, "sprint.transition"),
        ((ACTIVE,), PLANNED, "sprint.transition"),
        ((ACTIVE, COMPLETED), ACTIVE, "sprint.transition"),
        ((ACTIVE, COMPLETED), CANCELLED, "sprint.transition"),
        ((CANCELLED,), ACTIVE, "sprint.transition"),
    ],
)
async def test_transition_sprint_follows_the_life_cycle(
    board: Board, path: tuple[Status, ...], target: Status, refused_rule: str
) -> None:
    sprint = await create_sprint(board)
    for status in path:
        sprint = await transition(board, sprint.id, status)
    command = commands_pb2.TransitionSprint(
        sprint_id=sprint.id, expected_version=sprint.version, status=target
    )
    if refused_rule:
        error = await board.bob.error("transition_sprint", command)
        assert (code(error), error.rule, error.field) == (
            "VALIDATION_ERROR",
            refused_rule,
            "status",
        )
        await board.carol.no_event()
        return
    reply = await board.bob.request("transition_sprint", command)
    assert reply.sprint.sprint.status == target
    event = await board.carol.next_event()
    assert (event.entity_type, event.action) == (SPRINT, entities_pb2.ACTION_UPDATED)
    name = entities_pb2.SprintStatus.Name
    assert changes(event) == {
        "status": (
            name(sprint.status).removeprefix("SPRINT_STATUS_").lower(),
            name(target).removeprefix("SPRINT_STATUS_").lower(),
        )
    }


async def test_transition_sprint_refuses_a_second_active_sprint(board: Board) -> None:
    first = await create_sprint(board, "one")
    second = await create_sprint(board, "two")
    await transition(board, first.id, ACTIVE)
    error = await board.bob.error(
        "transition_sprint", commands_pb2.TransitionSprint(sprint_id=second.id, status=ACTIVE)
    )
    assert (code(error), error.rule) == ("VALIDATION_ERROR", "sprint.one_active")
    await board.carol.no_event()
    await transition(board, first.id, COMPLETED)
    assert (await transition(board, second.id, ACTIVE)).status == ACTIVE


async def test_transition_sprint_refusals(board: Board) -> None:
    sprint = await create_sprint(board)
    unspecified = await board.bob.error(
        "transition_sprint", commands_pb2.TransitionSprint(sprint_id=sprint.id)
    )
    assert (code(unspecified), unspecified.field) == ("VALIDATION_ERROR", "status")
    command = commands_pb2.TransitionSprint(sprint_id=sprint.id, status=ACTIVE)
    assert code(await board.carol.error("transition_sprint", command)) == "FORBIDDEN"
    for client in (board.dave, board.outsider):
        assert code(await client.error("transition_sprint", command)) == "NOT_FOUND"
    stale = await board.bob.error(
        "transition_sprint",
        commands_pb2.TransitionSprint(sprint_id=sprint.id, expected_version=7, status=ACTIVE),
    )
    assert (code(stale), stale.sprint.status) == ("CONFLICT", PLANNED)
    await board.carol.no_event()


async def test_completed_sprint_is_immutable(board: Board) -> None:
    sprint = await create_sprint(board)
    await transition(board, sprint.id, ACTIVE)
    await transition(board, sprint.id, COMPLETED)
    error = await board.bob.error(
        "update_sprint", commands_pb2.UpdateSprint(sprint_id=sprint.id, name="later")
    )
    assert (code(error), error.rule) == ("VALIDATION_ERROR", "sprint.immutable")
    await board.carol.no_event()


async def test_delete_active_sprint_is_blocked(board: Board) -> None:
    sprint = await create_sprint(board)
    await transition(board, sprint.id, ACTIVE)
    error = await board.bob.error("delete_sprint", commands_pb2.DeleteSprint(sprint_id=sprint.id))
    assert (code(error), error.entity, error.entity_id) == ("DELETE_BLOCKED", "sprint", sprint.id)
    await board.carol.no_event()


async def test_delete_sprint_moves_its_items_to_the_backlog(board: Board) -> None:
    sprint = await create_sprint(board)
    items = []
    for title in ("a", "b"):
        reply = await board.bob.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=board.project.id,
                type=entities_pb2.WORK_ITEM_TYPE_TASK,
                title=title,
                sprint_id=sprint.id,
            ),
        )
        items.append(reply.work_item.item)
        await board.carol.next_event()
    reply = await board.bob.request(
        "delete_sprint", commands_pb2.DeleteSprint(sprint_id=sprint.id, expected_version=1)
    )
    assert reply.sprint.sprint.HasField("deleted_at")
    event = await board.carol.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        SPRINT,
        entities_pb2.ACTION_DELETED,
        sprint.id,
    )
    assert sorted(event.cascaded_ids) == sorted(item.id for item in items)
    for item in items:
        got = await board.carol.request("get_work_item", commands_pb2.GetWorkItem(item_id=item.id))
        assert not got.work_item.item.HasField("sprint_id")
        assert got.work_item.item.version == item.version + 1
    listed = await board.carol.request(
        "list_sprints", commands_pb2.ListSprints(project_id=board.project.id)
    )
    assert list(listed.sprints.sprints) == []


async def test_delete_sprint_refusals(board: Board) -> None:
    sprint = await create_sprint(board)
    command = commands_pb2.DeleteSprint(sprint_id=sprint.id)
    assert code(await board.carol.error("delete_sprint", command)) == "FORBIDDEN"
    for client in (board.dave, board.outsider):
        hidden = await client.error("delete_sprint", command)
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "sprint")
    stale = await board.bob.error(
        "delete_sprint", commands_pb2.DeleteSprint(sprint_id=sprint.id, expected_version=5)
    )
    assert (code(stale), stale.sprint.id) == ("CONFLICT", sprint.id)
    await board.carol.no_event()
    gone = await board.bob.request("delete_sprint", command)
    await board.carol.next_event()
    again = await board.bob.error(
        "delete_sprint", commands_pb2.DeleteSprint(sprint_id=gone.sprint.sprint.id)
    )
    assert code(again) == "NOT_FOUND"


async def test_list_sprints_filters_by_status_and_carries_the_seq(board: Board) -> None:
    one = await create_sprint(board, "one")
    two = await create_sprint(board, "two")
    await transition(board, one.id, ACTIVE)
    pid = board.project.id
    everything = await board.carol.request("list_sprints", commands_pb2.ListSprints(project_id=pid))
    assert [s.id for s in everything.sprints.sprints] == [one.id, two.id]
    subscribed = await subscribe(board.bob, pid)
    assert everything.sprints.seq == subscribed.seq > 0
    active = await board.carol.request(
        "list_sprints", commands_pb2.ListSprints(project_id=pid, statuses=[ACTIVE])
    )
    assert [s.name for s in active.sprints.sprints] == ["one"]
    bad = await board.carol.error(
        "list_sprints",
        commands_pb2.ListSprints(project_id=pid, statuses=[entities_pb2.SPRINT_STATUS_UNSPECIFIED]),
    )
    assert (code(bad), bad.field) == ("VALIDATION_ERROR", "statuses")
    for client in (board.dave, board.outsider):
        hidden = await client.error("list_sprints", commands_pb2.ListSprints(project_id=pid))
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "project")


# -- names, and what an ending sprint does with its unfinished items ----------------


async def test_sprint_names_are_unique_among_the_projects_live_sprints(board: Board) -> None:
    first = await create_sprint(board, "Sprint 1")
    taken = await board.bob.error(
        "create_sprint", commands_pb2.CreateSprint(project_id=board.project.id, name="Sprint 1")
    )
    assert (code(taken), taken.entity_id) == ("CONFLICT", first.id)
    second = await create_sprint(board, "Sprint 2")
    renamed = await board.bob.error(
        "update_sprint", commands_pb2.UpdateSprint(sprint_id=second.id, name="Sprint 1")
    )
    assert (code(renamed), renamed.entity_id) == ("CONFLICT", first.id)
    await board.carol.no_event()
    # Another project may use the name, and a deleted sprint frees it.
    other = await create_project(board.alice, "OTH", "Other")
    await board.alice.request(
        "create_sprint", commands_pb2.CreateSprint(project_id=other.id, name="Sprint 1")
    )
    await board.bob.request("delete_sprint", commands_pb2.DeleteSprint(sprint_id=first.id))
    await board.carol.next_event()
    assert (await create_sprint(board, "Sprint 1")).id != first.id


async def planned_items(board: Board, sprint_id: str) -> dict[str, entities_pb2.WorkItem]:
    """Three items in the sprint: "open" (todo), "doing" (in progress) and "done"."""
    items = {}
    for title, status in (
        ("open", entities_pb2.WORK_ITEM_STATUS_TODO),
        ("doing", entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS),
        ("done", entities_pb2.WORK_ITEM_STATUS_DONE),
    ):
        reply = await board.bob.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=board.project.id,
                type=entities_pb2.WORK_ITEM_TYPE_TASK,
                title=title,
                status=status,
                sprint_id=sprint_id,
            ),
        )
        items[title] = reply.work_item.item
        await board.carol.next_event()
    return items


async def sprint_of(board: Board, item_id: str) -> str:
    got = await board.carol.request("get_work_item", commands_pb2.GetWorkItem(item_id=item_id))
    return got.work_item.item.sprint_id


@pytest.mark.parametrize("ending", [COMPLETED, CANCELLED])
async def test_ending_a_sprint_moves_its_unfinished_items_to_the_backlog(
    board: Board, ending: Status
) -> None:
    sprint = await create_sprint(board)
    await transition(board, sprint.id, ACTIVE)
    items = await planned_items(board, sprint.id)
    await board.bob.request(
        "transition_sprint", commands_pb2.TransitionSprint(sprint_id=sprint.id, status=ending)
    )
    event = await board.carol.next_event()
    assert (event.entity_type, event.sprint.status) == (SPRINT, ending)
    moved = {items["open"].id, items["doing"].id}
    assert set(event.cascaded_ids) == moved
    item_events = [await board.carol.next_event() for _ in moved]
    assert {e.entity_id for e in item_events} == moved
    for e in item_events:
        assert changes(e) == {"sprint_id": (sprint.id, None)}
        assert not e.work_item.HasField("sprint_id")
    await board.carol.no_event()
    assert await sprint_of(board, items["done"].id) == sprint.id  # done work stays


async def test_completing_a_sprint_moves_unfinished_items_to_a_planned_sprint(
    board: Board,
) -> None:
    sprint = await create_sprint(board, "now")
    following = await create_sprint(board, "next")
    await transition(board, sprint.id, ACTIVE)
    items = await planned_items(board, sprint.id)
    await board.bob.request(
        "transition_sprint",
        commands_pb2.TransitionSprint(
            sprint_id=sprint.id, status=COMPLETED, move_open_items_to=following.id
        ),
    )
    await board.carol.next_event()
    for _ in range(2):
        e = await board.carol.next_event()
        assert changes(e) == {"sprint_id": (sprint.id, following.id)}
        assert e.work_item.sprint_id == following.id
    assert await sprint_of(board, items["open"].id) == following.id
    assert await sprint_of(board, items["done"].id) == sprint.id


async def test_ending_a_sprint_refuses_a_destination_that_is_not_a_planned_sprint(
    board: Board,
) -> None:
    sprint = await create_sprint(board, "now")
    done = await create_sprint(board, "done")
    await transition(board, done.id, CANCELLED)
    await transition(board, sprint.id, ACTIVE)
    items = await planned_items(board, sprint.id)
    other = await create_project(board.alice, "OTH", "Other")
    elsewhere = await board.alice.request(
        "create_sprint", commands_pb2.CreateSprint(project_id=other.id, name="elsewhere")
    )
    hidden = await board.outsider.request(
        "create_project", commands_pb2.CreateProject(key="HID", name="Hidden")
    )
    hidden_sprint = await board.outsider.request(
        "create_sprint",
        commands_pb2.CreateSprint(project_id=hidden.project.project.id, name="hidden"),
    )

    def complete(destination: str) -> commands_pb2.TransitionSprint:
        return commands_pb2.TransitionSprint(
            sprint_id=sprint.id, status=COMPLETED, move_open_items_to=destination
        )

    for destination in (done.id, sprint.id, elsewhere.sprint.sprint.id):
        error = await board.alice.error("transition_sprint", complete(destination))
        assert (code(error), error.rule, error.field) == (
            "VALIDATION_ERROR",
            "sprint.destination",
            "move_open_items_to",
        )
    unseen = await board.alice.error("transition_sprint", complete(hidden_sprint.sprint.sprint.id))
    assert (code(unseen), unseen.entity_id) == ("NOT_FOUND", hidden_sprint.sprint.sprint.id)
    not_ending = await board.bob.error(
        "transition_sprint",
        commands_pb2.TransitionSprint(
            sprint_id=done.id, status=ACTIVE, move_open_items_to=sprint.id
        ),
    )
    assert (code(not_ending), not_ending.field) == ("VALIDATION_ERROR", "move_open_items_to")
    await board.carol.no_event()
    assert await sprint_of(board, items["open"].id) == sprint.id
