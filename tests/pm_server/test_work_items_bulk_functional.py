"""bulk_update_work_items over a real socket: all or nothing, one event per item."""

from __future__ import annotations

import asyncio

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import board, changes, code, new_item
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.module_server import ON_MODULE_LOOP, next_key, shared_server

pytestmark = ON_MODULE_LOOP
__all__ = ["shared_server"]

EPIC = entities_pb2.WORK_ITEM_TYPE_EPIC
TODO = entities_pb2.WORK_ITEM_STATUS_TODO
DOING = entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS
BACKLOG = entities_pb2.WORK_ITEM_STATUS_BACKLOG
HIGH = entities_pb2.PRIORITY_HIGH


async def test_bulk_update_changes_every_item_and_a_watcher_sees_one_event_each(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("BU"))
    items = [await new_item(b.bob, b.project.id, f"Item {n}") for n in range(3)]
    for _ in items:
        await b.vic.next_event()
    reply = await b.bob.request(
        "bulk_update_work_items",
        commands_pb2.BulkUpdateWorkItems(
            item_ids=[item.id for item in items], status=TODO, priority=HIGH, due_date="2027-01-15"
        ),
    )
    updated = reply.bulk_updated.items
    assert [item.id for item in updated] == [item.id for item in items]
    assert {(i.status, i.priority, i.due_date, i.version) for i in updated} == {
        (TODO, HIGH, "2027-01-15", 2)
    }
    events = [await b.vic.next_event() for _ in items]
    assert [event.entity_id for event in events] == [item.id for item in items]
    assert len({event.seq for event in events}) == 3
    for event in events:
        assert event.action == entities_pb2.ACTION_UPDATED
        assert set(changes(event)) == {"status", "priority", "due_date"}
    await b.vic.no_event()


async def test_bulk_update_is_all_or_nothing_and_names_the_failing_item(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("BU"))
    epic = await new_item(b.bob, b.project.id, "Epic", EPIC)
    story = await new_item(b.bob, b.project.id, "Story")
    other_epic = await new_item(b.bob, b.project.id, "Other epic", EPIC)
    for _ in range(3):
        await b.vic.next_event()
    # A story may hang under an epic; an epic may not: the third item fails the command.
    error = await b.bob.error(
        "bulk_update_work_items",
        commands_pb2.BulkUpdateWorkItems(
            item_ids=[story.id, other_epic.id], parent_id=epic.id, status=TODO
        ),
    )
    assert code(error) == "VALIDATION_ERROR"
    assert error.rule == "hierarchy.epic_has_no_parent"
    assert error.message.startswith(f"{other_epic.display_key} ({other_epic.id}): ")
    await b.vic.no_event()
    reply = await b.vic.request("get_work_item", commands_pb2.GetWorkItem(item_id=story.id))
    assert (reply.work_item.item.version, reply.work_item.item.HasField("parent_id")) == (1, False)


async def test_bulk_update_refuses_items_the_caller_may_not_change(shared_server: Server) -> None:
    b = await board(shared_server, next_key("BU"))
    mine = await new_item(b.bob, b.project.id, "Mine")
    outsider = await shared_server.client(user="olga")
    hidden_project = await create_project(outsider, next_key("HID"))
    hidden = await new_item(outsider, hidden_project.id, "Hidden")
    await b.vic.next_event()

    error = await b.bob.error(
        "bulk_update_work_items",
        commands_pb2.BulkUpdateWorkItems(item_ids=[mine.id, hidden.id], status=TODO),
    )
    assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", hidden.id)
    error = await b.vic.error(
        "bulk_update_work_items", commands_pb2.BulkUpdateWorkItems(item_ids=[mine.id], status=TODO)
    )
    assert code(error) == "FORBIDDEN"
    assert error.message.startswith(f"{mine.id}: ")
    await b.vic.no_event()


async def test_bulk_update_takes_1_to_500_distinct_items_and_a_change(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("BU"))
    item = await new_item(b.bob, b.project.id, "Only")
    cases = [
        (commands_pb2.BulkUpdateWorkItems(item_ids=[], status=TODO), "item_ids"),
        (
            commands_pb2.BulkUpdateWorkItems(item_ids=[f"x{n}" for n in range(501)], status=TODO),
            "item_ids",
        ),
        (commands_pb2.BulkUpdateWorkItems(item_ids=[item.id, item.id], status=TODO), "item_ids"),
        (commands_pb2.BulkUpdateWorkItems(item_ids=[item.id]), "item_ids"),
    ]
    for command, field in cases:
        error = await b.bob.error("bulk_update_work_items", command)
        assert (code(error), error.field) == ("VALIDATION_ERROR", field)


async def test_bulk_update_of_500_items_is_one_transaction_and_501_are_refused(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("BU"))
    items: list[entities_pb2.WorkItem] = []
    for start in range(0, 501, 50):  # waves under the connection's in-flight bound (64)
        wave = range(start, min(start + 50, 501))
        items += await asyncio.gather(*(new_item(b.bob, b.project.id, f"Item {n}") for n in wave))
    for _ in items:
        assert (await b.vic.next_event()).action == entities_pb2.ACTION_CREATED
    ids = [item.id for item in items]

    error = await b.bob.error(
        "bulk_update_work_items", commands_pb2.BulkUpdateWorkItems(item_ids=ids, status=DOING)
    )
    assert (code(error), error.field) == ("VALIDATION_ERROR", "item_ids")
    await b.vic.no_event()
    reply = await b.vic.request("get_work_item", commands_pb2.GetWorkItem(item_id=ids[0]))
    assert reply.work_item.item.version == 1

    reply = await b.bob.request(
        "bulk_update_work_items",
        commands_pb2.BulkUpdateWorkItems(item_ids=ids[:500], status=DOING),
        timeout=30,
    )
    updated = reply.bulk_updated.items
    assert [item.id for item in updated] == ids[:500]
    assert {(item.status, item.version) for item in updated} == {(DOING, 2)}
    # One unit of work: one clock reading for every row it wrote.
    assert len({item.updated_at.ToJsonString() for item in updated}) == 1
    events = [await b.vic.next_event() for _ in range(500)]
    assert [event.entity_id for event in events] == ids[:500]
    assert all(event.action == entities_pb2.ACTION_UPDATED for event in events)
    assert all(set(changes(event)) == {"status"} for event in events)
    assert [event.seq for event in events] == list(range(events[0].seq, events[0].seq + 500))
    await b.vic.no_event()
    reply = await b.vic.request("get_work_item", commands_pb2.GetWorkItem(item_id=ids[500]))
    assert (reply.work_item.item.status, reply.work_item.item.version) == (BACKLOG, 1)
