"""Labels over a real socket: the commands, their refusals, the events, the list filter."""

from __future__ import annotations

from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import Board, board, changes, code, new_item
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.module_server import ON_MODULE_LOOP, next_key, shared_server
from tests.pm_server.wsclient import WsClient

pytestmark = ON_MODULE_LOOP
__all__ = ["shared_server"]

LABEL = entities_pb2.ENTITY_TYPE_LABEL
ITEM_LABEL = entities_pb2.ENTITY_TYPE_ITEM_LABEL
CREATED = entities_pb2.ACTION_CREATED
UPDATED = entities_pb2.ACTION_UPDATED
DELETED = entities_pb2.ACTION_DELETED


async def new_label(client: WsClient, project_id: str, name: str, **fields: Any) -> Any:
    reply = await client.request(
        "create_label", commands_pb2.CreateLabel(project_id=project_id, name=name, **fields)
    )
    return reply.label.label


async def attach(client: WsClient, item_id: str, label_id: str) -> Any:
    reply = await client.request(
        "attach_label", commands_pb2.AttachLabel(work_item_id=item_id, label_id=label_id)
    )
    return reply.item_label.item_label


async def labelled(client: WsClient, project_id: str, *label_ids: str) -> list[str]:
    reply = await client.request(
        "list_work_items",
        commands_pb2.ListWorkItems(project_id=project_id, label_ids=list(label_ids)),
    )
    return [item.title for item in reply.work_items.items]


async def fresh_board(server: Server) -> Board:
    return await board(server, next_key("LB"))


async def test_create_and_update_label_and_a_watcher_sees_both(shared_server: Server) -> None:
    b = await fresh_board(shared_server)
    label = await new_label(b.bob, b.project.id, "Bug", color="#ff0000")
    assert (label.name, label.color, label.version) == ("Bug", "#ff0000", 1)
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.label.name) == (LABEL, CREATED, "Bug")

    reply = await b.bob.request(
        "update_label", commands_pb2.UpdateLabel(label_id=label.id, color="#00aa00", name="Defect")
    )
    assert (reply.label.label.color, reply.label.label.version) == ("#00aa00", 2)
    event = await b.vic.next_event()
    assert (event.action, changes(event)) == (
        UPDATED,
        {"name": ("Bug", "Defect"), "color": ("#ff0000", "#00aa00")},
    )
    default = await new_label(b.bob, b.project.id, "Plain")
    assert default.color == "#6b7280"


async def test_label_refusals_write_nothing(shared_server: Server) -> None:
    b = await fresh_board(shared_server)
    await new_label(b.bob, b.project.id, "Bug")
    await b.vic.next_event()
    # Names are unique in the project whatever their case.
    error = await b.bob.error(
        "create_label", commands_pb2.CreateLabel(project_id=b.project.id, name="bUG")
    )
    assert (code(error), error.entity) == ("CONFLICT", "label")
    error = await b.bob.error(
        "create_label",
        commands_pb2.CreateLabel(project_id=b.project.id, name="Red", color="red"),
    )
    assert (code(error), error.field) == ("VALIDATION_ERROR", "color")
    error = await b.vic.error(
        "create_label", commands_pb2.CreateLabel(project_id=b.project.id, name="Mine")
    )
    assert code(error) == "FORBIDDEN"
    await b.vic.no_event()
    listed = await b.vic.request("list_labels", commands_pb2.ListLabels(project_id=b.project.id))
    assert [label.name for label in listed.labels.labels] == ["Bug"]


async def test_attach_and_detach_a_label_with_events_and_refusals(shared_server: Server) -> None:
    b = await fresh_board(shared_server)
    item = await new_item(b.bob, b.project.id, "Login")
    label = await new_label(b.bob, b.project.id, "Bug")
    other = await create_project(b.bob, next_key("LO"))
    foreign = await new_label(b.bob, other.id, "Bug")
    for _ in range(2):
        await b.vic.next_event()

    attached = await attach(b.bob, item.id, label.id)
    assert (attached.work_item_id, attached.label_id, attached.created_by) == (
        item.id,
        label.id,
        "bob",
    )
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.item_label.id) == (
        ITEM_LABEL,
        CREATED,
        attached.id,
    )
    error = await b.bob.error(
        "attach_label", commands_pb2.AttachLabel(work_item_id=item.id, label_id=label.id)
    )
    assert code(error) == "CONFLICT"
    error = await b.bob.error(
        "attach_label", commands_pb2.AttachLabel(work_item_id=item.id, label_id=foreign.id)
    )
    assert (code(error), error.rule) == ("VALIDATION_ERROR", "label.project")
    error = await b.vic.error(
        "attach_label", commands_pb2.AttachLabel(work_item_id=item.id, label_id=label.id)
    )
    assert code(error) == "FORBIDDEN"
    await b.vic.no_event()

    listed = await b.vic.request(
        "list_labels", commands_pb2.ListLabels(project_id=b.project.id, work_item_id=item.id)
    )
    assert [a.id for a in listed.labels.item_labels] == [attached.id]
    reply = await b.bob.request(
        "detach_label", commands_pb2.DetachLabel(work_item_id=item.id, label_id=label.id)
    )
    assert reply.item_label.item_label.HasField("deleted_at")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action) == (ITEM_LABEL, DELETED)
    error = await b.bob.error(
        "detach_label", commands_pb2.DetachLabel(work_item_id=item.id, label_id=label.id)
    )
    assert (code(error), error.entity) == ("NOT_FOUND", "item_label")


async def test_list_work_items_by_labels_picks_items_carrying_all_of_them(
    shared_server: Server,
) -> None:
    b = await fresh_board(shared_server)
    bug = await new_label(b.bob, b.project.id, "Bug")
    ui = await new_label(b.bob, b.project.id, "UI")
    both = await new_item(b.bob, b.project.id, "Both")
    only_bug = await new_item(b.bob, b.project.id, "Only bug")
    await new_item(b.bob, b.project.id, "None")
    for item, label in ((both, bug), (both, ui), (only_bug, bug)):
        await attach(b.bob, item.id, label.id)

    assert await labelled(b.vic, b.project.id, bug.id) == ["Both", "Only bug"]
    assert await labelled(b.vic, b.project.id, bug.id, ui.id) == ["Both"]
    assert await labelled(b.vic, b.project.id, ui.id) == ["Both"]
    assert await labelled(b.vic, b.project.id, "no-such-label") == []
    assert await labelled(b.vic, b.project.id) == ["Both", "Only bug", "None"]


async def test_delete_label_detaches_it_everywhere_each_with_its_event(
    shared_server: Server,
) -> None:
    b = await fresh_board(shared_server)
    label = await new_label(b.bob, b.project.id, "Bug")
    first = await new_item(b.bob, b.project.id, "One")
    second = await new_item(b.bob, b.project.id, "Two")
    attachments = [await attach(b.bob, item.id, label.id) for item in (first, second)]
    for _ in range(5):
        await b.vic.next_event()

    await b.bob.request("delete_label", commands_pb2.DeleteLabel(label_id=label.id))
    deleted = await b.vic.next_event()
    assert (deleted.entity_type, deleted.action) == (LABEL, DELETED)
    assert sorted(deleted.cascaded_ids) == sorted(a.id for a in attachments)
    detached = [await b.vic.next_event() for _ in attachments]
    assert {(e.entity_type, e.action) for e in detached} == {(ITEM_LABEL, DELETED)}
    listed = await b.vic.request("list_labels", commands_pb2.ListLabels(project_id=b.project.id))
    assert (list(listed.labels.labels), list(listed.labels.item_labels)) == ([], [])
    # The name is free again.
    again = await new_label(b.bob, b.project.id, "bug")
    assert again.name == "bug"
