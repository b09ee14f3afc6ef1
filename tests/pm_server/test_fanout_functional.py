"""A second client sees every mutation of every kind, in seq order, exactly as stored."""

from __future__ import annotations

import json

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient


async def make_changes(alice: WsClient, project_id: str) -> int:
    """One mutation of every kind; returns how many were made."""
    r = alice.request
    epic = (
        await r(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Epic"
            ),
        )
    ).work_item.item
    story = (
        await r(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project_id,
                type=entities_pb2.WORK_ITEM_TYPE_STORY,
                title="Story",
                parent_id=epic.id,
            ),
        )
    ).work_item.item
    await r(
        "update_work_item",
        commands_pb2.UpdateWorkItem(
            item_id=story.id, status=entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS, story_points=3
        ),
    )
    sprint = (
        await r("create_sprint", commands_pb2.CreateSprint(project_id=project_id, name="S1"))
    ).sprint.sprint
    await r(
        "transition_sprint",
        commands_pb2.TransitionSprint(
            sprint_id=sprint.id, status=entities_pb2.SPRINT_STATUS_ACTIVE
        ),
    )
    comment = (
        await r("create_comment", commands_pb2.CreateComment(work_item_id=story.id, body="hi"))
    ).comment.comment
    await r("edit_comment", commands_pb2.EditComment(comment_id=comment.id, body="hello"))
    dependency = (
        await r(
            "create_dependency",
            commands_pb2.CreateDependency(
                from_item_id=epic.id,
                to_item_id=story.id,
                type=entities_pb2.DEPENDENCY_TYPE_RELATES_TO,
            ),
        )
    ).dependency.dependency
    await r("delete_dependency", commands_pb2.DeleteDependency(dependency_id=dependency.id))
    lanes = (
        await r("list_swim_lanes", commands_pb2.ListSwimLanes(project_id=project_id))
    ).swim_lanes
    (todo,) = [x for x in lanes.lanes if x.status == entities_pb2.WORK_ITEM_STATUS_TODO]
    await r("delete_swim_lane", commands_pb2.DeleteSwimLane(lane_id=todo.id))  # one per status
    await r(
        "create_swim_lane",
        commands_pb2.CreateSwimLane(
            project_id=project_id, name="Blocked", status=entities_pb2.WORK_ITEM_STATUS_TODO
        ),
    )
    await r(
        "create_llm_context",
        commands_pb2.CreateLlmContext(
            project_id=project_id,
            context_type=entities_pb2.LLM_CONTEXT_TYPE_BUSINESS_RULE,
            title="Rule",
            content="Stories need points.",
        ),
    )
    await r("start_timer", commands_pb2.StartTimer(work_item_id=story.id))
    await r("stop_timer", commands_pb2.StopTimer())
    await r(
        "add_member",
        commands_pb2.AddMember(
            project_id=project_id, user_id="carol", role=entities_pb2.ROLE_EDITOR
        ),
    )
    return 15


async def test_every_mutation_reaches_the_other_client_in_order_as_stored(server: Server) -> None:
    alice = await server.client(user="alice")
    await server.client(user="carol")  # provisions carol
    project = await create_project(alice, "ALL")
    bob = await server.client(user="bob")
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id="bob", role=entities_pb2.ROLE_VIEWER),
    )
    start = (await subscribe(bob, project.id)).seq
    count = await make_changes(alice, project.id)
    received = [await bob.next_event() for _ in range(count)]
    await bob.no_event()

    assert [e.seq for e in received] == list(range(start + 1, start + count + 1))
    async with server.state.databases.use("acme") as db:
        stored = await db.read(lambda uow: uow.events.after(start, project_ids=[project.id]))
    assert [e.SerializeToString() for e in received] == [s.payload for s in stored]

    kinds = {(e.entity_type, e.action) for e in received}
    assert len(kinds) >= 9
    update = next(
        e
        for e in received
        if e.entity_type == entities_pb2.ENTITY_TYPE_WORK_ITEM
        and e.action == entities_pb2.ACTION_UPDATED
    )
    assert {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in update.changes} == {
        "status": ("backlog", "in_progress"),
        "story_points": (None, 3),
    }
    assert all(e.actor_id == "alice" and e.project_id == project.id for e in received)
