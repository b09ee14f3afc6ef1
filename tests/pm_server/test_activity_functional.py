"""The activity log over a real socket: per project and per entity, paged, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

CREATED, UPDATED, DELETED = (
    entities_pb2.ACTION_CREATED,
    entities_pb2.ACTION_UPDATED,
    entities_pb2.ACTION_DELETED,
)
LANE = entities_pb2.ENTITY_TYPE_SWIM_LANE


@dataclass
class Board:
    project: entities_pb2.Project
    alice: WsClient  # admin
    vic: WsClient  # viewer
    lane: entities_pb2.SwimLane  # created by alice, then renamed QA -> Review


async def board(server: Server) -> Board:
    alice = await server.client("acme", "alice")
    vic = await server.client("acme", "vic")
    project = await create_project(alice)
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id="vic", role=entities_pb2.ROLE_VIEWER),
    )
    # One lane per status: the default "In Review" lane makes way for the board's own.
    defaults = await alice.request(
        "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=project.id)
    )
    (review,) = [
        x for x in defaults.swim_lanes.lanes if x.status == entities_pb2.WORK_ITEM_STATUS_IN_REVIEW
    ]
    await alice.request("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=review.id))
    created = await alice.request(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(
            project_id=project.id, name="QA", status=entities_pb2.WORK_ITEM_STATUS_IN_REVIEW
        ),
    )
    renamed = await alice.request(
        "update_swim_lane",
        commands_pb2.UpdateSwimLane(lane_id=created.swim_lane.lane.id, name="Review"),
    )
    return Board(project, alice, vic, renamed.swim_lane.lane)


async def activity(client: WsClient, **scope: Any) -> commands_pb2.ActivityList:
    reply = await client.request("list_activity", commands_pb2.ListActivity(**scope))
    return reply.activity


def summary(entries: Any) -> list[tuple[int, int, str | None, Any, Any]]:
    return [
        (
            e.entity_type,
            e.action,
            e.field if e.HasField("field") else None,
            json.loads(e.old_json),
            json.loads(e.new_json),
        )
        for e in entries
    ]


async def test_list_activity_of_a_project_newest_first_for_a_viewer(server: Server) -> None:
    b = await board(server)
    listed = await activity(b.vic, project_id=b.project.id)
    assert summary(listed.entries) == [
        (LANE, UPDATED, "name", "QA", "Review"),
        (LANE, CREATED, None, None, None),
        (LANE, DELETED, None, None, None),  # the default lane of the status
        (entities_pb2.ENTITY_TYPE_MEMBER, CREATED, None, None, None),
        (entities_pb2.ENTITY_TYPE_PROJECT, CREATED, None, None, None),
    ]
    newest = listed.entries[0]
    assert (newest.entity_id, newest.project_id, newest.actor_id) == (
        b.lane.id,
        b.project.id,
        "alice",
    )
    assert newest.HasField("created_at")
    head = await subscribe(b.vic, b.project.id)
    assert listed.seq == head.seq > 0


async def test_list_activity_pages_by_before_id(server: Server) -> None:
    b = await board(server)
    everything = (await activity(b.alice, project_id=b.project.id)).entries
    first = (await activity(b.alice, project_id=b.project.id, limit=3)).entries
    second = (
        await activity(b.alice, project_id=b.project.id, limit=3, before_id=first[-1].id)
    ).entries
    assert len(first) == 3
    assert [e.id for e in [*first, *second]] == [e.id for e in everything]
    last = await activity(b.alice, project_id=b.project.id, before_id=everything[-1].id)
    assert list(last.entries) == []


async def test_list_activity_of_an_entity(server: Server) -> None:
    b = await board(server)
    listed = await activity(b.vic, entity=commands_pb2.EntityRef(type=LANE, id=b.lane.id))
    assert summary(listed.entries) == [
        (LANE, UPDATED, "name", "QA", "Review"),
        (LANE, CREATED, None, None, None),
    ]
    assert {e.entity_id for e in listed.entries} == {b.lane.id}


async def test_list_activity_of_a_deleted_entity_stays_readable(server: Server) -> None:
    b = await board(server)
    await b.alice.request("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=b.lane.id))
    listed = await activity(b.vic, entity=commands_pb2.EntityRef(type=LANE, id=b.lane.id))
    assert [e.action for e in listed.entries] == [DELETED, UPDATED, CREATED]
    outsider = await server.client("acme", "carol")
    error = await outsider.error(
        "list_activity",
        commands_pb2.ListActivity(entity=commands_pb2.EntityRef(type=LANE, id=b.lane.id)),
    )
    assert (error.code, error.entity, error.entity_id) == (
        envelope_pb2.NOT_FOUND,
        "swim_lane",
        b.lane.id,
    )


async def test_list_activity_of_an_entity_without_history_is_empty(server: Server) -> None:
    b = await board(server)
    lanes = await b.vic.request(
        "list_swim_lanes", commands_pb2.ListSwimLanes(project_id=b.project.id)
    )
    default_lane = lanes.swim_lanes.lanes[0]  # created with the project, no history of its own
    listed = await activity(b.vic, entity=commands_pb2.EntityRef(type=LANE, id=default_lane.id))
    assert list(listed.entries) == []


async def test_list_activity_of_the_project_entity(server: Server) -> None:
    b = await board(server)
    await b.alice.request(
        "update_project", commands_pb2.UpdateProject(project_id=b.project.id, name="Renamed")
    )
    listed = await activity(
        b.vic,
        entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_PROJECT, id=b.project.id),
    )
    assert summary(listed.entries) == [
        (entities_pb2.ENTITY_TYPE_PROJECT, UPDATED, "name", "Project", "Renamed"),
        (entities_pb2.ENTITY_TYPE_PROJECT, CREATED, None, None, None),
    ]


async def test_list_activity_outside_the_project_is_not_found(server: Server) -> None:
    b = await board(server)
    carol = await server.client("acme", "carol")
    mallory = await server.client("evil", "alice", admin=True)
    for client in (carol, mallory):
        by_project = await client.error(
            "list_activity", commands_pb2.ListActivity(project_id=b.project.id)
        )
        assert (by_project.code, by_project.entity_id) == (envelope_pb2.NOT_FOUND, b.project.id)
        by_entity = await client.error(
            "list_activity",
            commands_pb2.ListActivity(entity=commands_pb2.EntityRef(type=LANE, id=b.lane.id)),
        )
        assert (by_entity.code, by_entity.entity, by_entity.entity_id) == (
            envelope_pb2.NOT_FOUND,
            "swim_lane",
            b.lane.id,
        )


async def test_list_activity_of_an_unknown_entity_is_not_found(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error(
        "list_activity",
        commands_pb2.ListActivity(
            entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id="nope")
        ),
    )
    assert (error.code, error.entity, error.entity_id) == (
        envelope_pb2.NOT_FOUND,
        "work_item",
        "nope",
    )


async def test_list_activity_refuses_bad_arguments(server: Server) -> None:
    b = await board(server)
    cases = [
        (commands_pb2.ListActivity(), "project_id"),
        (commands_pb2.ListActivity(project_id=b.project.id, limit=-1), "limit"),
        (
            commands_pb2.ListActivity(entity=commands_pb2.EntityRef(id=b.lane.id)),
            "entity.type",
        ),
        (commands_pb2.ListActivity(entity=commands_pb2.EntityRef(type=LANE)), "entity.id"),
    ]
    for cmd, field in cases:
        error = await b.alice.error("list_activity", cmd)
        assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, field)


async def test_list_activity_clamps_a_huge_limit(server: Server) -> None:
    b = await board(server)
    listed = await activity(b.alice, project_id=b.project.id, limit=1_000_000)
    assert len(listed.entries) == 5


async def test_activity_of_tenant_wide_rows_is_readable_by_every_user(server: Server) -> None:
    boss = await server.client("acme", "boss", admin=True)
    created = await boss.request(
        "create_llm_context",
        commands_pb2.CreateLlmContext(
            context_type=entities_pb2.LLM_CONTEXT_TYPE_INSTRUCTION, title="Tone", content="Be brief"
        ),
    )
    row = created.llm_context.context
    anyone = await server.client("acme", "zoe")
    listed = await activity(
        anyone,
        entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_LLM_CONTEXT, id=row.id),
    )
    assert [(e.action, e.actor_id, e.HasField("project_id")) for e in listed.entries] == [
        (CREATED, "boss", False)
    ]
