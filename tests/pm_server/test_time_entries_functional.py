"""Time entries over a real socket: timers, manual entries, corrections, paged listing.

Setup: alice creates the project (admin) and an item, bob is an editor who
logs time, carol a viewer subscribed to the project (the second client that
sees every event), dave a user of the same tenant outside the project, and
"bob" of another tenant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

TIME_ENTRY = entities_pb2.ENTITY_TYPE_TIME_ENTRY


@dataclass
class Board:
    alice: WsClient  # admin
    bob: WsClient  # editor
    carol: WsClient  # viewer, subscribed
    dave: WsClient  # same tenant, not a member
    outsider: WsClient  # another tenant
    project: entities_pb2.Project
    item: entities_pb2.WorkItem


async def create_item(client: WsClient, project_id: str, title: str) -> entities_pb2.WorkItem:
    reply = await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_TASK, title=title
        ),
    )
    return reply.work_item.item


@pytest.fixture
async def board(server: Server) -> Board:
    alice = await server.client(user="alice")
    bob = await server.client(user="bob")
    carol = await server.client(user="carol")
    dave = await server.client(user="dave")
    outsider = await server.client(tenant="other", user="bob")
    project = await create_project(alice, "TIM", "Timers")
    for user, role in (("bob", entities_pb2.ROLE_EDITOR), ("carol", entities_pb2.ROLE_VIEWER)):
        await alice.request(
            "add_member", commands_pb2.AddMember(project_id=project.id, user_id=user, role=role)
        )
    item = await create_item(alice, project.id, "Log here")
    await subscribe(carol, project.id)
    return Board(alice, bob, carol, dave, outsider, project, item)


def code(error: envelope_pb2.Error) -> str:
    return envelope_pb2.ErrorCode.Name(error.code)


def changes(event: events_pb2.Event) -> dict[str, tuple[object, object]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


def manual(
    item_id: str, started: datetime, ended: datetime, note: str = ""
) -> commands_pb2.CreateTimeEntry:
    return commands_pb2.CreateTimeEntry(
        work_item_id=item_id,
        started_at=to_timestamp(started),
        ended_at=to_timestamp(ended),
        note=note,
    )


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


async def log(board: Board, hours: float = 2, note: str = "") -> entities_pb2.TimeEntry:
    reply = await board.bob.request(
        "create_time_entry", manual(board.item.id, hours_ago(hours), hours_ago(hours - 1), note)
    )
    await board.carol.next_event()
    return reply.time_entry.entry


async def running_timer(client: WsClient) -> entities_pb2.TimeEntry | None:
    reply = await client.request("get_running_timer", commands_pb2.GetRunningTimer())
    timer = reply.running_timer
    return timer.entry if timer.HasField("entry") else None


async def test_start_timer_replies_with_a_running_entry_and_the_watcher_sees_it(
    board: Board,
) -> None:
    reply = await board.bob.request(
        "start_timer", commands_pb2.StartTimer(work_item_id=board.item.id, note="go")
    )
    entry = reply.time_entry.entry
    assert not reply.time_entry.HasField("stopped")
    assert (entry.user_id, entry.work_item_id, entry.project_id, entry.note) == (
        "bob",
        board.item.id,
        board.project.id,
        "go",
    )
    assert not entry.HasField("ended_at")
    event = await board.carol.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.entity_id, event.actor_id) == (
        TIME_ENTRY,
        entities_pb2.ACTION_CREATED,
        entry.id,
        "bob",
    )
    assert event.time_entry == entry
    assert list(event.cascaded_ids) == []
    assert await running_timer(board.bob) == entry
    assert await running_timer(board.alice) is None


async def test_starting_a_second_timer_stops_the_first(board: Board) -> None:
    other = await create_item(board.alice, board.project.id, "Other")
    await board.carol.next_event()
    first = await board.bob.request(
        "start_timer", commands_pb2.StartTimer(work_item_id=board.item.id)
    )
    await board.carol.next_event()
    second = await board.bob.request("start_timer", commands_pb2.StartTimer(work_item_id=other.id))
    stopped = second.time_entry.stopped
    assert stopped.id == first.time_entry.entry.id
    assert stopped.HasField("ended_at")
    assert stopped.ended_at.ToDatetime(UTC) >= stopped.started_at.ToDatetime(UTC)
    assert stopped.version == 2
    event = await board.carol.next_event()
    assert (event.entity_id, event.action) == (
        second.time_entry.entry.id,
        entities_pb2.ACTION_CREATED,
    )
    assert list(event.cascaded_ids) == [stopped.id]
    stop_event = await board.carol.next_event()
    assert (stop_event.entity_id, stop_event.action) == (stopped.id, entities_pb2.ACTION_UPDATED)
    assert stop_event.seq == event.seq + 1
    assert list(changes(stop_event)) == ["ended_at"]
    running = await running_timer(board.bob)
    assert running is not None
    assert running.id == second.time_entry.entry.id
    listed = await board.bob.request("list_time_entries", commands_pb2.ListTimeEntries())
    assert {e.id: e.HasField("ended_at") for e in listed.time_entries.entries} == {
        stopped.id: True,
        running.id: False,
    }


async def test_start_timer_refusals(board: Board) -> None:
    command = commands_pb2.StartTimer(work_item_id=board.item.id)
    viewer = await board.carol.error("start_timer", command)
    assert (code(viewer), viewer.rule) == ("FORBIDDEN", "role.editor")
    for client in (board.dave, board.outsider):
        hidden = await client.error("start_timer", command)
        assert (code(hidden), hidden.entity, hidden.entity_id) == (
            "NOT_FOUND",
            "work_item",
            board.item.id,
        )
        assert await running_timer(client) is None
    await board.carol.no_event()


async def test_stop_timer_ends_the_running_entry(board: Board) -> None:
    started = await board.bob.request(
        "start_timer", commands_pb2.StartTimer(work_item_id=board.item.id)
    )
    await board.carol.next_event()
    reply = await board.bob.request("stop_timer", commands_pb2.StopTimer())
    entry = reply.time_entry.entry
    assert entry.id == started.time_entry.entry.id
    assert entry.HasField("ended_at")
    assert entry.version == 2
    event = await board.carol.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        TIME_ENTRY,
        entities_pb2.ACTION_UPDATED,
        entry.id,
    )
    assert list(changes(event)) == ["ended_at"]
    old, new = changes(event)["ended_at"]
    assert old is None
    assert isinstance(new, str)
    assert event.time_entry == entry
    assert await running_timer(board.bob) is None


async def test_stop_timer_without_a_running_timer_is_not_found(board: Board) -> None:
    error = await board.bob.error("stop_timer", commands_pb2.StopTimer())
    assert (code(error), error.entity) == ("NOT_FOUND", "running_timer")
    # alice's timer is hers alone: bob cannot stop it.
    await board.alice.request("start_timer", commands_pb2.StartTimer(work_item_id=board.item.id))
    await board.carol.next_event()
    assert code(await board.bob.error("stop_timer", commands_pb2.StopTimer())) == "NOT_FOUND"
    assert await running_timer(board.alice) is not None
    await board.carol.no_event()


async def test_create_time_entry_logs_finished_work(board: Board) -> None:
    started, ended = hours_ago(3), hours_ago(1)
    reply = await board.bob.request(
        "create_time_entry", manual(board.item.id, started, ended, "review")
    )
    entry = reply.time_entry.entry
    assert (entry.user_id, entry.note) == ("bob", "review")
    assert entry.started_at.ToDatetime(UTC) == started
    assert entry.ended_at.ToDatetime(UTC) == ended
    event = await board.carol.next_event()
    assert (event.entity_type, event.action, event.time_entry) == (
        TIME_ENTRY,
        entities_pb2.ACTION_CREATED,
        entry,
    )
    assert await running_timer(board.bob) is None


@pytest.mark.parametrize(
    ("started_hours_ago", "ended_hours_ago", "field", "rule"),
    [
        (1, -1, "ended_at", "timer.future"),
        (30, 5, "ended_at", "timer.max_duration"),
        (1, 2, "ended_at", "timer.order"),
        (1, 1, "ended_at", "timer.order"),
    ],
)
async def test_create_time_entry_refuses_entries_breaking_the_rules(
    board: Board, started_hours_ago: float, ended_hours_ago: float, field: str, rule: str
) -> None:
    started, ended = hours_ago(started_hours_ago), hours_ago(ended_hours_ago)
    if started_hours_ago == ended_hours_ago:
        ended = started
    error = await board.bob.error("create_time_entry", manual(board.item.id, started, ended))
    assert (code(error), error.field, error.rule) == ("VALIDATION_ERROR", field, rule)
    await board.carol.no_event()


async def test_create_time_entry_refusals(board: Board) -> None:
    command = manual(board.item.id, hours_ago(2), hours_ago(1))
    missing = commands_pb2.CreateTimeEntry(work_item_id=board.item.id)
    missing.ended_at.CopyFrom(command.ended_at)
    error = await board.bob.error("create_time_entry", missing)
    assert (code(error), error.field) == ("VALIDATION_ERROR", "started_at")
    assert code(await board.carol.error("create_time_entry", command)) == "FORBIDDEN"
    for client in (board.dave, board.outsider):
        hidden = await client.error("create_time_entry", command)
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "work_item")
    await board.carol.no_event()


async def test_update_time_entry_by_its_user_sends_changes(board: Board) -> None:
    entry = await log(board, note="draft")
    started = entry.started_at.ToDatetime(UTC) - timedelta(minutes=30)
    reply = await board.bob.request(
        "update_time_entry",
        commands_pb2.UpdateTimeEntry(
            entry_id=entry.id,
            expected_version=1,
            note="final",
            started_at=to_timestamp(started),
        ),
    )
    updated = reply.time_entry.entry
    assert (updated.note, updated.version) == ("final", 2)
    event = await board.carol.next_event()
    assert (event.entity_type, event.action) == (TIME_ENTRY, entities_pb2.ACTION_UPDATED)
    got = changes(event)
    assert got["note"] == ("draft", "final")
    assert set(got) == {"note", "started_at"}
    assert event.time_entry == updated


async def test_update_time_entry_by_a_project_admin_is_allowed(board: Board) -> None:
    entry = await log(board)
    reply = await board.alice.request(
        "update_time_entry", commands_pb2.UpdateTimeEntry(entry_id=entry.id, note="by admin")
    )
    assert reply.time_entry.entry.user_id == "bob"
    event = await board.carol.next_event()
    assert (event.actor_id, changes(event)) == ("alice", {"note": ("", "by admin")})


async def test_update_time_entry_refusals(board: Board) -> None:
    entry = await log(board)
    command = commands_pb2.UpdateTimeEntry(entry_id=entry.id, note="x")
    viewer = await board.carol.error("update_time_entry", command)
    assert (code(viewer), viewer.rule) == ("FORBIDDEN", "role.admin")
    for client in (board.dave, board.outsider):
        hidden = await client.error("update_time_entry", command)
        assert (code(hidden), hidden.entity, hidden.entity_id) == (
            "NOT_FOUND",
            "time_entry",
            entry.id,
        )
    backwards = await board.bob.error(
        "update_time_entry",
        commands_pb2.UpdateTimeEntry(entry_id=entry.id, ended_at=to_timestamp(hours_ago(5))),
    )
    assert (code(backwards), backwards.rule) == ("VALIDATION_ERROR", "timer.order")
    await board.carol.no_event()


async def test_update_time_entry_with_stale_version_conflicts_with_the_current_entry(
    board: Board,
) -> None:
    entry = await log(board)
    await board.bob.request(
        "update_time_entry", commands_pb2.UpdateTimeEntry(entry_id=entry.id, note="first")
    )
    await board.carol.next_event()
    error = await board.bob.error(
        "update_time_entry",
        commands_pb2.UpdateTimeEntry(entry_id=entry.id, expected_version=1, note="second"),
    )
    assert (code(error), error.current_version) == ("CONFLICT", 2)
    assert error.WhichOneof("current") == "time_entry"
    assert error.time_entry.note == "first"
    await board.carol.no_event()


async def test_delete_time_entry_by_its_user(board: Board) -> None:
    entry = await log(board)
    reply = await board.bob.request(
        "delete_time_entry", commands_pb2.DeleteTimeEntry(entry_id=entry.id, expected_version=1)
    )
    assert reply.time_entry.entry.HasField("deleted_at")
    event = await board.carol.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        TIME_ENTRY,
        entities_pb2.ACTION_DELETED,
        entry.id,
    )
    listed = await board.bob.request("list_time_entries", commands_pb2.ListTimeEntries())
    assert list(listed.time_entries.entries) == []


async def test_delete_time_entry_refusals(board: Board) -> None:
    entry = await log(board)
    command = commands_pb2.DeleteTimeEntry(entry_id=entry.id)
    assert code(await board.carol.error("delete_time_entry", command)) == "FORBIDDEN"
    for client in (board.dave, board.outsider):
        hidden = await client.error("delete_time_entry", command)
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "time_entry")
    stale = await board.bob.error(
        "delete_time_entry", commands_pb2.DeleteTimeEntry(entry_id=entry.id, expected_version=3)
    )
    assert (code(stale), stale.time_entry.id) == ("CONFLICT", entry.id)
    await board.carol.no_event()
    await board.alice.request("delete_time_entry", command)  # a project admin may
    assert (await board.carol.next_event()).action == entities_pb2.ACTION_DELETED


async def test_list_time_entries_pages_return_every_entry_exactly_once(board: Board) -> None:
    # Pairs share a start time, so the id must break the tie between pages.
    expected = []
    for n in range(7):
        started = hours_ago(10) + timedelta(minutes=n // 2)
        reply = await board.bob.request(
            "create_time_entry",
            manual(board.item.id, started, started + timedelta(minutes=5), f"#{n}"),
        )
        expected.append(reply.time_entry.entry)
    newest_first = sorted(
        expected, key=lambda e: (e.started_at.ToDatetime(UTC), e.id), reverse=True
    )
    seen: list[entities_pb2.TimeEntry] = []
    command = commands_pb2.ListTimeEntries(project_id=board.project.id, limit=3)
    pages = 0
    while True:
        reply = await board.carol.request("list_time_entries", command)
        page = list(reply.time_entries.entries)
        assert reply.time_entries.seq > 0
        pages += 1
        if not page:
            break
        seen.extend(page)
        command.before_started_at.CopyFrom(page[-1].started_at)
        command.before_id = page[-1].id
    assert [e.id for e in seen] == [e.id for e in newest_first]
    assert pages == 4


async def test_list_time_entries_scope(board: Board) -> None:
    entry = await log(board)
    pid = board.project.id
    # A user lists their own entries anywhere, and others' in a project or item they read.
    own = await board.bob.request("list_time_entries", commands_pb2.ListTimeEntries())
    assert [e.id for e in own.time_entries.entries] == [entry.id]
    for command in (
        commands_pb2.ListTimeEntries(project_id=pid),
        commands_pb2.ListTimeEntries(work_item_id=board.item.id, user_id="bob"),
    ):
        reply = await board.carol.request("list_time_entries", command)
        assert [e.id for e in reply.time_entries.entries] == [entry.id]
    nobody = await board.dave.request("list_time_entries", commands_pb2.ListTimeEntries())
    assert list(nobody.time_entries.entries) == []
    unscoped = await board.carol.error(
        "list_time_entries", commands_pb2.ListTimeEntries(user_id="bob")
    )
    assert (code(unscoped), unscoped.field) == ("VALIDATION_ERROR", "project_id")
    for client in (board.dave, board.outsider):
        hidden = await client.error(
            "list_time_entries", commands_pb2.ListTimeEntries(project_id=pid)
        )
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "project")
        hidden = await client.error(
            "list_time_entries",
            commands_pb2.ListTimeEntries(work_item_id=board.item.id, user_id=""),
        )
        assert (code(hidden), hidden.entity) == ("NOT_FOUND", "work_item")
    negative = await board.bob.error("list_time_entries", commands_pb2.ListTimeEntries(limit=-1))
    assert (code(negative), negative.field) == ("VALIDATION_ERROR", "limit")


async def test_get_running_timer_is_per_user(board: Board) -> None:
    assert await running_timer(board.bob) is None
    await board.bob.request("start_timer", commands_pb2.StartTimer(work_item_id=board.item.id))
    await board.carol.next_event()
    assert await running_timer(board.bob) is not None
    assert await running_timer(board.carol) is None
    assert await running_timer(board.outsider) is None


async def test_starting_a_timer_in_another_project_announces_the_stop_there(
    board: Board,
) -> None:
    await board.bob.request("start_timer", commands_pb2.StartTimer(work_item_id=board.item.id))
    await board.carol.next_event()
    elsewhere = await board.bob.request(
        "create_project", commands_pb2.CreateProject(key="ELSE", name="Elsewhere")
    )
    other = await create_item(board.bob, elsewhere.project.project.id, "Other")
    await board.bob.request("start_timer", commands_pb2.StartTimer(work_item_id=other.id))
    stop_event = await board.carol.next_event()
    assert stop_event.project_id == board.project.id
    assert stop_event.action == entities_pb2.ACTION_UPDATED
    assert stop_event.time_entry.HasField("ended_at")
    await board.carol.no_event()
