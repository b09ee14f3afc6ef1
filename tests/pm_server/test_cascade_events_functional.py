"""Every row a command changes reaches subscribers as its own event.

A client that loads a snapshot, then applies only the events after the
snapshot's ``seq``, must end with exactly the server's rows, versions
included, whatever the command changed besides its own entity: the items a
deleted sprint gives back to the backlog, the comments, time entries and
dependencies a deleted item takes along, everything a deleted project held.
"""

from __future__ import annotations

from google.protobuf.message import Message

from pm_proto.v1 import commands_pb2, entities_pb2, events_pb2
from tests.pm_server.boards import Board, board, new_item
from tests.pm_server.conftest import Server
from tests.pm_server.wsclient import WsClient

TASK = entities_pb2.WORK_ITEM_TYPE_TASK
DELETED = entities_pb2.ACTION_DELETED
UPDATED = entities_pb2.ACTION_UPDATED

Rows = dict[str, tuple[str, int, bytes]]


class Mirror:
    """What a client holds: rows by id, loaded once, then kept by events alone."""

    def __init__(self, seq: int, rows: Rows) -> None:
        self.seq = seq
        self.rows = rows

    def apply(self, event: events_pb2.Event) -> None:
        if event.seq <= self.seq:
            return  # already in the snapshot
        self.seq = event.seq
        kind = event.WhichOneof("entity")
        assert kind is not None
        entity: Message = getattr(event, kind)
        if event.action == DELETED:
            self.rows.pop(event.entity_id, None)
        else:
            self.rows[event.entity_id] = _row(kind, entity)


def _row(kind: str, entity: Message) -> tuple[str, int, bytes]:
    version: int = getattr(entity, "version")  # noqa: B009 - not on Message, on each entity
    return kind, version, entity.SerializeToString(deterministic=True)


async def snapshot(client: WsClient, project_id: str, item_ids: list[str]) -> Mirror:
    """The project's items and sprints, and the comments, time and links of ``item_ids``."""
    rows: Rows = {}
    items = await client.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project_id, limit=1000)
    )
    seq = items.work_items.seq
    for item in items.work_items.items:
        rows[item.id] = _row("work_item", item)
    sprints = await client.request("list_sprints", commands_pb2.ListSprints(project_id=project_id))
    for sprint in sprints.sprints.sprints:
        rows[sprint.id] = _row("sprint", sprint)
    for item_id in item_ids:
        if item_id not in rows:
            continue
        comments = await client.request(
            "list_comments", commands_pb2.ListComments(work_item_id=item_id)
        )
        for comment in comments.comments.comments:
            rows[comment.id] = _row("comment", comment)
        entries = await client.request(
            "list_time_entries", commands_pb2.ListTimeEntries(work_item_id=item_id)
        )
        for entry in entries.time_entries.entries:
            rows[entry.id] = _row("time_entry", entry)
        links = await client.request(
            "list_dependencies", commands_pb2.ListDependencies(item_id=item_id)
        )
        for link in [*links.dependencies.outgoing, *links.dependencies.incoming]:
            rows[link.id] = _row("dependency", link)
    return Mirror(seq, rows)


async def follow(b: Board, mirror: Mirror, until_seq: int) -> list[events_pb2.Event]:
    events = await b.vic.events_until(until_seq)
    for event in events:
        mirror.apply(event)
    return events


async def test_a_client_applying_events_keeps_the_items_a_deleted_sprint_released(
    server: Server,
) -> None:
    b = await board(server)
    sprint = (
        await b.bob.request(
            "create_sprint", commands_pb2.CreateSprint(project_id=b.project.id, name="S1")
        )
    ).sprint.sprint
    in_sprint = [
        await new_item(b.bob, b.project.id, f"task {n}", TASK, sprint_id=sprint.id)
        for n in range(3)
    ]
    outside = await new_item(b.bob, b.project.id, "not planned", TASK)
    mirror = await snapshot(b.vic, b.project.id, [])
    b.vic.drain_events()

    reply = await b.bob.request(
        "delete_sprint", commands_pb2.DeleteSprint(sprint_id=sprint.id, expected_version=1)
    )
    head = (await snapshot(b.vic, b.project.id, [])).seq
    events = await follow(b, mirror, head)

    server_rows = (await snapshot(b.vic, b.project.id, [])).rows
    assert mirror.rows == server_rows
    assert sprint.id not in mirror.rows
    assert reply.sprint.sprint.HasField("deleted_at")
    for item in in_sprint:
        assert mirror.rows[item.id][1] == item.version + 1
    assert mirror.rows[outside.id][1] == outside.version
    released = [e for e in events if e.entity_type == entities_pb2.ENTITY_TYPE_WORK_ITEM]
    assert sorted(e.entity_id for e in released) == sorted(item.id for item in in_sprint)
    for event in released:
        assert event.action == UPDATED
        assert [(c.field, c.old_json, c.new_json) for c in event.changes] == [
            ("sprint_id", f'"{sprint.id}"', "null")
        ]
        assert event.work_item.display_key.startswith(f"{b.project.key}-")
    # Each released item has its own audit row, by the user who deleted the sprint.
    activity = await b.vic.request(
        "list_activity",
        commands_pb2.ListActivity(
            entity=commands_pb2.EntityRef(
                type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id=in_sprint[0].id
            )
        ),
    )
    newest = activity.activity.entries[0]
    assert (newest.action, newest.field, newest.actor_id) == (UPDATED, "sprint_id", "bob")


async def test_a_client_applying_events_drops_what_a_deleted_item_took_along(
    server: Server,
) -> None:
    b = await board(server)
    item = await new_item(b.bob, b.project.id, "doomed", TASK)
    other = await new_item(b.bob, b.project.id, "stays", TASK)
    await b.bob.request(
        "create_comment", commands_pb2.CreateComment(work_item_id=item.id, body="a note")
    )
    await b.bob.request("start_timer", commands_pb2.StartTimer(work_item_id=item.id))
    link = (
        await b.bob.request(
            "create_dependency",
            commands_pb2.CreateDependency(
                from_item_id=other.id,
                to_item_id=item.id,
                type=entities_pb2.DEPENDENCY_TYPE_BLOCKS,
            ),
        )
    ).dependency.dependency
    mirror = await snapshot(b.vic, b.project.id, [item.id, other.id])
    assert len(mirror.rows) == 5  # two items, a comment, a time entry, a dependency
    b.vic.drain_events()

    await b.bob.request(
        "delete_work_item", commands_pb2.DeleteWorkItem(item_id=item.id, expected_version=1)
    )
    head = (await snapshot(b.vic, b.project.id, [])).seq
    events = await follow(b, mirror, head)

    assert mirror.rows == (await snapshot(b.vic, b.project.id, [other.id])).rows
    assert set(mirror.rows) == {other.id}
    deleted = {e.entity_id: e for e in events if e.action == DELETED}
    assert set(deleted) == {item.id, link.id, *deleted[item.id].cascaded_ids}
    assert len(deleted) == 4
    for event in deleted.values():
        kind = event.WhichOneof("entity")
        assert kind is not None
        entity = getattr(event, kind)
        assert entity.HasField("deleted_at"), kind
        assert entity.version == 2, kind


async def test_every_row_of_a_deleted_project_has_its_own_delete_event(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.bob, b.project.id, "item", TASK)
    await b.bob.request(
        "create_comment", commands_pb2.CreateComment(work_item_id=item.id, body="a note")
    )
    mirror = await snapshot(b.vic, b.project.id, [item.id])
    b.vic.drain_events()

    await b.alice.request(
        "delete_project", commands_pb2.DeleteProject(project_id=b.project.id, expected_version=1)
    )
    head = (
        await b.alice.request("list_projects", commands_pb2.ListProjects(include_archived=True))
    ).projects.seq
    events = await follow(b, mirror, head)

    assert mirror.rows == {}
    kinds = sorted(entities_pb2.EntityType.Name(e.entity_type) for e in events)
    assert kinds == sorted(
        [
            "ENTITY_TYPE_COMMENT",
            "ENTITY_TYPE_MEMBER",  # alice, bob, vic
            "ENTITY_TYPE_MEMBER",
            "ENTITY_TYPE_MEMBER",
            "ENTITY_TYPE_PROJECT",
            *["ENTITY_TYPE_SWIM_LANE"] * 5,  # the default lanes
            "ENTITY_TYPE_WORK_ITEM",
        ]
    )
    assert all(e.action == DELETED for e in events)
