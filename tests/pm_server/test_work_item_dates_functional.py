"""Items' start and due dates over a real socket: the wire form, the rule, the filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import board, changes, code, new_item, update
from tests.pm_server.conftest import Server
from tests.pm_server.module_server import ON_MODULE_LOOP, next_key, shared_server
from tests.pm_server.wsclient import WsClient

pytestmark = ON_MODULE_LOOP
__all__ = ["shared_server"]

DONE = entities_pb2.WORK_ITEM_STATUS_DONE


def day(offset: int) -> str:
    """Today (UTC, as the server judges "overdue") plus ``offset`` days, as the wire has it."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def titles(client: WsClient, project_id: str, **filters: Any) -> list[str]:
    reply = await client.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project_id, **filters)
    )
    return [item.title for item in reply.work_items.items]


async def test_item_dates_travel_as_calendar_dates_and_a_watcher_sees_them_change(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("DT"))
    item = await new_item(
        b.bob, b.project.id, "Launch", start_date="2026-12-01", due_date="2026-12-24"
    )
    assert (item.start_date, item.due_date) == ("2026-12-01", "2026-12-24")
    created = await b.vic.next_event()
    assert created.work_item.due_date == "2026-12-24"

    cleared = await update(b.bob, item.id, due_date="", start_date="2026-12-02")
    assert not cleared.HasField("due_date")
    assert cleared.start_date == "2026-12-02"
    event = await b.vic.next_event()
    assert changes(event) == {
        "start_date": ("2026-12-01", "2026-12-02"),
        "due_date": ("2026-12-24", None),
    }
    assert not event.work_item.HasField("due_date")


async def test_due_date_before_start_date_or_not_a_date_is_refused_and_writes_nothing(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("DT"))
    item = await new_item(b.bob, b.project.id, "Plan", start_date="2026-05-10")
    await b.vic.next_event()
    error = await b.bob.error(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=item.id, due_date="2026-05-09")
    )
    assert (code(error), error.field, error.rule) == (
        "VALIDATION_ERROR",
        "due_date",
        "work_item.dates",
    )
    for bad in ("2026-02-30", "2026-5-1", "tomorrow", "20260501"):
        error = await b.bob.error(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=b.project.id,
                type=entities_pb2.WORK_ITEM_TYPE_TASK,
                title="x",
                due_date=bad,
            ),
        )
        assert (code(error), error.field) == ("VALIDATION_ERROR", "due_date"), bad
    await b.vic.no_event()
    assert await titles(b.alice, b.project.id) == ["Plan"]


async def test_overdue_and_due_before_filters_pick_the_right_items(shared_server: Server) -> None:
    b = await board(shared_server, next_key("DT"))
    await new_item(b.bob, b.project.id, "late", due_date=day(-1))
    await new_item(b.bob, b.project.id, "late but done", due_date=day(-3), status=DONE)
    await new_item(b.bob, b.project.id, "due today", due_date=day(0))
    await new_item(b.bob, b.project.id, "next week", due_date=day(7))
    await new_item(b.bob, b.project.id, "undated")

    assert await titles(b.vic, b.project.id, overdue=True) == ["late"]
    assert await titles(b.vic, b.project.id, due_before=day(1)) == [
        "late",
        "late but done",
        "due today",
    ]
    assert await titles(b.vic, b.project.id, due_before=day(1), overdue=True) == ["late"]
    error = await b.vic.error(
        "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id, due_before="soon")
    )
    assert (code(error), error.field) == ("VALIDATION_ERROR", "due_before")
