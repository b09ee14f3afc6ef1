"""Swim lanes over a real socket: create, update, delete, list, and refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

TODO = entities_pb2.WORK_ITEM_STATUS_TODO
IN_REVIEW = entities_pb2.WORK_ITEM_STATUS_IN_REVIEW
LANE = entities_pb2.ENTITY_TYPE_SWIM_LANE


def changes_of(event: events_pb2.Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


@dataclass
class Board:
    project: entities_pb2.Project
    alice: WsClient  # admin
    erin: WsClient  # editor
    vic: WsClient  # viewer, subscribed: the second client that watches


async def board(server: Server) -> Board:
    """The default board without its "To Do" and "In Review" lanes, so that the tests can
    create lanes of those statuses (a project has one live lane per status)."""
    alice = await server.client("acme", "alice")
    erin = await server.client("acme", "erin")
    vic = await server.client("acme", "vic")
    project = await create_project(alice)
    for user, role in (("erin", entities_pb2.ROLE_EDITOR), ("vic", entities_pb2.ROLE_VIEWER)):
        await alice.request(
            "add_member", commands_pb2.AddMember(project_id=project.id, user_id=user, role=role)
        )
    for lane in (await lanes(alice, project.id)).lanes:
        if lane.status in (TODO, IN_REVIEW):
            await alice.request("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id))
    await subscribe(vic, project.id)
    return Board(project, alice, erin, vic)


async def new_lane(b: Board, name: str = "QA", **fields: Any) -> entities_pb2.SwimLane:
    reply = await b.erin.request(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(project_id=b.project.id, name=name, status=IN_REVIEW, **fields),
    )
    await b.vic.next_event()
    return reply.swim_lane.lane


async def lanes(client: WsClient, project_id: str) -> commands_pb2.SwimLaneList:
    reply = await client.request(
        "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=project_id)
    )
    return reply.swim_lanes


# -- create ----------------------------------------------------------------------


async def test_create_swim_lane_by_editor_is_seen(server: Server) -> None:
    b = await board(server)
    reply = await b.erin.request(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(project_id=b.project.id, name="QA", status=IN_REVIEW),
    )
    lane = reply.swim_lane.lane
    assert (lane.project_id, lane.name, lane.status, lane.version) == (
        b.project.id,
        "QA",
        IN_REVIEW,
        1,
    )
    assert lane.position == 5  # after the five default lanes
    assert not lane.HasField("wip_limit")
    event = await b.vic.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.actor_id) == (
        LANE,
        entities_pb2.ACTION_CREATED,
        "erin",
    )
    assert event.swim_lane == lane
    listed = await lanes(b.vic, b.project.id)
    assert [x.name for x in listed.lanes][-1] == "QA"


async def test_create_swim_lane_with_position_and_wip_limit(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b, "Urgent", position=0, wip_limit=3)
    assert (lane.position, lane.wip_limit) == (0, 3)


async def test_create_swim_lane_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    error = await b.vic.error(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(project_id=b.project.id, name="QA", status=TODO),
    )
    assert (error.code, error.rule) == (envelope_pb2.FORBIDDEN, "role.editor")
    await b.vic.no_event()
    assert len((await lanes(b.alice, b.project.id)).lanes) == 3


async def test_create_swim_lane_with_taken_name_conflicts(server: Server) -> None:
    b = await board(server)
    error = await b.erin.error(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(project_id=b.project.id, name="Done", status=TODO),
    )
    assert error.code == envelope_pb2.CONFLICT
    await b.vic.no_event()


async def test_create_swim_lane_without_status_is_a_validation_error(server: Server) -> None:
    b = await board(server)
    error = await b.erin.error(
        "create_swim_lane", commands_pb2.CreateSwimLane(project_id=b.project.id, name="QA")
    )
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "status")
    await b.vic.no_event()


async def test_create_swim_lane_in_a_project_one_cannot_see_is_not_found(server: Server) -> None:
    b = await board(server)
    for client in (
        await server.client("acme", "carol"),
        await server.client("evil", "alice", admin=True),
    ):
        error = await client.error(
            "create_swim_lane",
            commands_pb2.CreateSwimLane(project_id=b.project.id, name="X", status=TODO),
        )
        assert (error.code, error.entity, error.entity_id) == (
            envelope_pb2.NOT_FOUND,
            "project",
            b.project.id,
        )
    await b.vic.no_event()


# -- update ----------------------------------------------------------------------


async def test_update_swim_lane_is_seen_with_field_changes(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b, "QA", wip_limit=2)
    reply = await b.erin.request(
        "update_swim_lane",
        commands_pb2.UpdateSwimLane(
            lane_id=lane.id, expected_version=1, name="Review", status=TODO, wip_limit=4
        ),
    )
    updated = reply.swim_lane.lane
    assert (updated.name, updated.status, updated.wip_limit, updated.version) == (
        "Review",
        TODO,
        4,
        2,
    )
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        LANE,
        entities_pb2.ACTION_UPDATED,
        lane.id,
    )
    assert event.swim_lane == updated
    assert changes_of(event) == {
        "name": ("QA", "Review"),
        "status": ("in_review", "todo"),
        "wip_limit": (2, 4),
    }


async def test_update_swim_lane_clears_wip_limit(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b, "QA", wip_limit=2)
    reply = await b.erin.request(
        "update_swim_lane", commands_pb2.UpdateSwimLane(lane_id=lane.id, clear_wip_limit=True)
    )
    assert not reply.swim_lane.lane.HasField("wip_limit")
    event = await b.vic.next_event()
    assert changes_of(event) == {"wip_limit": (2, None)}


async def test_update_swim_lane_with_limit_and_clear_is_a_validation_error(
    server: Server,
) -> None:
    b = await board(server)
    lane = await new_lane(b)
    for cmd in (
        commands_pb2.UpdateSwimLane(lane_id=lane.id, wip_limit=3, clear_wip_limit=True),
        commands_pb2.UpdateSwimLane(lane_id=lane.id),
    ):
        error = await b.erin.error("update_swim_lane", cmd)
        assert error.code == envelope_pb2.VALIDATION_ERROR
        assert error.field
    await b.vic.no_event()


async def test_update_swim_lane_with_stale_version_conflicts_with_current(
    server: Server,
) -> None:
    b = await board(server)
    lane = await new_lane(b)
    await b.erin.request(
        "update_swim_lane", commands_pb2.UpdateSwimLane(lane_id=lane.id, position=9)
    )
    await b.vic.next_event()
    error = await b.alice.error(
        "update_swim_lane",
        commands_pb2.UpdateSwimLane(lane_id=lane.id, expected_version=1, name="Late"),
    )
    assert (error.code, error.current_version) == (envelope_pb2.CONFLICT, 2)
    assert error.WhichOneof("current") == "swim_lane"
    assert (error.swim_lane.name, error.swim_lane.position) == ("QA", 9)
    await b.vic.no_event()


async def test_update_swim_lane_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b)
    error = await b.vic.error(
        "update_swim_lane", commands_pb2.UpdateSwimLane(lane_id=lane.id, name="Mine")
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.vic.no_event()


async def test_lane_commands_from_outside_the_project_are_not_found(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b)
    carol = await server.client("acme", "carol")
    mallory = await server.client("evil", "alice", admin=True)
    for client in (carol, mallory):
        for name, cmd in [
            ("update_swim_lane", commands_pb2.UpdateSwimLane(lane_id=lane.id, name="x")),
            ("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id)),
        ]:
            error = await client.error(name, cmd)
            assert (error.code, error.entity, error.entity_id) == (
                envelope_pb2.NOT_FOUND,
                "swim_lane",
                lane.id,
            )
            assert error.WhichOneof("current") is None
        listed = await client.error(
            "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=b.project.id)
        )
        assert listed.code == envelope_pb2.NOT_FOUND
    await b.vic.no_event()


# -- delete ----------------------------------------------------------------------


async def test_delete_swim_lane_is_seen_and_gone_from_list(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b)
    reply = await b.erin.request(
        "delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id, expected_version=1)
    )
    assert reply.swim_lane.lane.HasField("deleted_at")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        LANE,
        entities_pb2.ACTION_DELETED,
        lane.id,
    )
    assert event.swim_lane.HasField("deleted_at")
    assert lane.id not in {x.id for x in (await lanes(b.vic, b.project.id)).lanes}
    again = await b.erin.error("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id))
    assert (again.code, again.entity) == (envelope_pb2.NOT_FOUND, "swim_lane")
    await new_lane(b, "QA")  # the name is free again


async def test_delete_swim_lane_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b)
    error = await b.vic.error("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id))
    assert error.code == envelope_pb2.FORBIDDEN
    await b.vic.no_event()


async def test_delete_swim_lane_with_stale_version_conflicts(server: Server) -> None:
    b = await board(server)
    lane = await new_lane(b)
    error = await b.erin.error(
        "delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=lane.id, expected_version=7)
    )
    assert (error.code, error.swim_lane.id) == (envelope_pb2.CONFLICT, lane.id)
    await b.vic.no_event()


# -- list ------------------------------------------------------------------------


async def test_list_swim_lanes_left_to_right_with_seq(server: Server) -> None:
    b = await board(server)
    tied = await new_lane(b, "Triage", position=2)  # ties with "In Progress": older lane first
    listed = await lanes(b.vic, b.project.id)
    assert [lane.name for lane in listed.lanes] == ["Backlog", "In Progress", "Triage", "Done"]
    assert listed.lanes[2] == tied
    head = await b.alice.request("subscribe", commands_pb2.Subscribe(project_ids=[b.project.id]))
    assert listed.seq == head.subscribed.seq


# -- one lane per status, WIP limits -----------------------------------------------


async def test_second_lane_of_a_status_is_refused_with_the_rule(server: Server) -> None:
    b = await board(server)
    qa = await new_lane(b, "QA")
    error = await b.erin.error(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(project_id=b.project.id, name="Review 2", status=IN_REVIEW),
    )
    assert (error.code, error.rule, error.field) == (
        envelope_pb2.VALIDATION_ERROR,
        "swim_lane.one_per_status",
        "status",
    )
    assert "'QA'" in error.message
    moved = await b.erin.error(
        "update_swim_lane",
        commands_pb2.UpdateSwimLane(
            lane_id=(await lanes(b.erin, b.project.id)).lanes[0].id, status=IN_REVIEW
        ),
    )
    assert moved.rule == "swim_lane.one_per_status"
    await b.vic.no_event()
    await b.erin.request("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=qa.id))
    await b.vic.next_event()
    await new_lane(b, "Review 2")  # the status is free again


async def new_item(b: Board, title: str, status: Any = TODO) -> entities_pb2.WorkItem:
    reply = await b.erin.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=b.project.id,
            type=entities_pb2.WORK_ITEM_TYPE_TASK,
            title=title,
            status=status,
        ),
    )
    await b.vic.next_event()
    return reply.work_item.item


async def test_list_swim_lanes_carries_each_lanes_load(server: Server) -> None:
    b = await board(server)
    review = await new_lane(b, "QA", wip_limit=1)
    for title in ("a", "b"):
        await new_item(b, title, IN_REVIEW)
    await new_item(b, "c", entities_pb2.WORK_ITEM_STATUS_BACKLOG)
    listed = await lanes(b.vic, b.project.id)
    loads = {load.lane_id: (load.item_count, load.over_limit) for load in listed.loads}
    assert [load.lane_id for load in listed.loads] == [lane.id for lane in listed.lanes]
    by_name = {lane.name: lane.id for lane in listed.lanes}
    assert loads[review.id] == (2, True)
    assert loads[by_name["Backlog"]] == (1, False)
    assert loads[by_name["Done"]] == (0, False)


async def test_moving_an_item_into_a_full_lane_is_allowed_and_says_it_is_over(
    server: Server,
) -> None:
    b = await board(server)
    review = await new_lane(b, "QA", wip_limit=1)
    first = await new_item(b, "first")
    second = await new_item(b, "second")
    into = await b.erin.request(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=first.id, status=IN_REVIEW)
    )
    assert (into.work_item.lane_load.lane_id, into.work_item.lane_load.item_count) == (
        review.id,
        1,
    )
    assert not into.work_item.lane_load.over_limit
    assert (await b.vic.next_event()).lane_load == into.work_item.lane_load

    over = await b.erin.request(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=second.id, status=IN_REVIEW)
    )
    assert over.work_item.item.status == IN_REVIEW
    load = over.work_item.lane_load
    assert (load.lane_id, load.item_count, load.over_limit) == (review.id, 2, True)
    event = await b.vic.next_event()
    assert event.lane_load == load

    # A change that leaves the item in its lane carries no load.
    retitled = await b.erin.request(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=second.id, title="renamed")
    )
    assert not retitled.work_item.HasField("lane_load")
    assert not (await b.vic.next_event()).HasField("lane_load")
