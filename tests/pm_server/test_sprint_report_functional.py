"""The sprint report over a real socket: the day's scope, done and remaining work as the
commands of the day left them, and who may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2 as P
from pm_proto.v1 import entities_pb2, envelope_pb2
from tests.pm_server.boards import board, new_item, update
from tests.pm_server.conftest import Server

ACTIVE = entities_pb2.SPRINT_STATUS_ACTIVE
COMPLETED = entities_pb2.SPRINT_STATUS_COMPLETED
DONE = entities_pb2.WORK_ITEM_STATUS_DONE


async def test_sprint_report_counts_scope_done_and_remaining_per_day(server: Server) -> None:
    b = await board(server)
    now = datetime.now(UTC)
    created = await b.bob.request(
        "create_sprint",
        P.CreateSprint(
            project_id=b.project.id,
            name="S1",
            starts_at=to_timestamp(now - timedelta(days=2)),
            ends_at=to_timestamp(now + timedelta(days=5)),
        ),
    )
    sprint = created.sprint.sprint
    await b.bob.request("transition_sprint", P.TransitionSprint(sprint_id=sprint.id, status=ACTIVE))
    first = await new_item(b.bob, b.project.id, "first", sprint_id=sprint.id, story_points=3)
    await new_item(b.bob, b.project.id, "second", sprint_id=sprint.id, story_points=5)
    unestimated = await new_item(b.bob, b.project.id, "third")
    await update(b.bob, unestimated.id, sprint_id=sprint.id)  # added to the sprint later
    await update(b.bob, first.id, status=DONE)

    reply = await b.vic.request("get_sprint_report", P.GetSprintReport(sprint_id=sprint.id))
    report = reply.sprint_report
    assert report.sprint.id == sprint.id
    assert report.seq > 0
    days = [(d.date, d.scope_items, d.done_items, d.remaining_items) for d in report.days]
    assert len(days) == 3  # from the start to today, not past it
    assert days[0][1:] == (0, 0, 0)  # nothing planned two days ago
    today = report.days[-1]
    assert today.date == now.date().isoformat()
    assert (today.scope_items, today.done_items, today.remaining_items) == (3, 1, 2)
    assert (today.scope_points, today.done_points, today.remaining_points) == (8, 3, 5)

    # Completing it moves "second" and "third" out; the last day still counts them as left.
    await b.bob.request(
        "transition_sprint", P.TransitionSprint(sprint_id=sprint.id, status=COMPLETED)
    )
    ended = await b.vic.request("get_sprint_report", P.GetSprintReport(sprint_id=sprint.id))
    last = ended.sprint_report.days[-1]
    assert (last.scope_items, last.done_items, last.remaining_points) == (3, 1, 5)


async def test_sprint_report_of_a_sprint_one_cannot_read_is_not_found(server: Server) -> None:
    b = await board(server)
    created = await b.bob.request(
        "create_sprint", P.CreateSprint(project_id=b.project.id, name="S")
    )
    sprint_id = created.sprint.sprint.id
    for client in (
        await server.client("acme", "carol"),
        await server.client("evil", "alice", admin=True),
    ):
        error = await client.error("get_sprint_report", P.GetSprintReport(sprint_id=sprint_id))
        assert (error.code, error.entity, error.entity_id) == (
            envelope_pb2.NOT_FOUND,
            "sprint",
            sprint_id,
        )
