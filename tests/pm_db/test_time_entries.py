"""TimeEntryRepository against a real migrated tenant database."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from pm_core.enums import WorkItemType
from pm_core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from pm_core.models import Project, TimeEntryPatch, User, WorkItem
from pm_db.codec import db_time, new_id
from pm_db.repositories.time_entries import TimeEntryRepository
from pm_db.unit_of_work import UnitOfWork

HOUR = timedelta(hours=1)


@pytest.fixture
def entries(uow: UnitOfWork) -> TimeEntryRepository:
    return uow.time_entries


@pytest.fixture
def bob(uow: UnitOfWork) -> User:
    return uow.users.upsert(user_id="u-bob", display_name="Bob")


@pytest.fixture
def item(uow: UnitOfWork, project: Project, user: User) -> WorkItem:
    return uow.work_items.create(
        project_id=project.id, type=WorkItemType.TASK, title="Fix it", created_by=user.id
    )


@pytest.fixture
def other_item(uow: UnitOfWork, project: Project, user: User) -> WorkItem:
    return uow.work_items.create(
        project_id=project.id, type=WorkItemType.TASK, title="Other", created_by=user.id
    )


def insert_running(conn: sqlite3.Connection, now: datetime, item: WorkItem, user_id: str) -> None:
    conn.execute(
        "INSERT INTO time_entries (id, project_id, work_item_id, user_id, started_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (new_id(), item.project_id, item.id, user_id, db_time(now), db_time(now), db_time(now)),
    )


def test_start_timer_creates_running_entry(entries, item, user, now) -> None:
    entry, stopped = entries.start(item=item, user_id=user.id, note="coding")

    assert stopped is None
    assert entry.running
    assert (entry.started_at, entry.project_id, entry.note) == (now, item.project_id, "coding")
    assert entries.get(entry.id) == entry
    assert entries.running(user.id) == entry


def test_start_timer_stops_the_previous_one(conn, now, item, other_item, user) -> None:
    first, _ = TimeEntryRepository(conn, now).start(item=item, user_id=user.id)
    later = now + HOUR

    second, stopped = TimeEntryRepository(conn, later).start(item=other_item, user_id=user.id)

    assert stopped is not None
    assert (stopped.id, stopped.ended_at, stopped.version) == (first.id, later, 2)
    entries = TimeEntryRepository(conn, later)
    assert entries.get(first.id) == stopped
    assert entries.running(user.id) == second
    running = conn.execute(
        "SELECT COUNT(*) FROM time_entries WHERE user_id = ? AND ended_at IS NULL", (user.id,)
    ).fetchone()[0]
    assert running == 1


def test_start_timer_twice_in_one_unit_stops_with_zero_duration(entries, item, user) -> None:
    first, _ = entries.start(item=item, user_id=user.id)

    _, stopped = entries.start(item=item, user_id=user.id)

    assert stopped is not None
    assert stopped.ended_at == stopped.started_at
    assert entries.get(first.id) == stopped


def test_timers_of_different_users_run_side_by_side(entries, item, user, bob) -> None:
    mine, _ = entries.start(item=item, user_id=user.id)
    theirs, stopped = entries.start(item=item, user_id=bob.id)

    assert stopped is None
    assert entries.running(user.id) == mine
    assert entries.running(bob.id) == theirs


def test_database_refuses_a_second_running_timer(conn, now, item, user, bob) -> None:
    insert_running(conn, now, item, user.id)
    insert_running(conn, now, item, bob.id)

    with pytest.raises(sqlite3.IntegrityError):
        insert_running(conn, now, item, user.id)


def test_racing_start_is_refused_as_one_running_rule(monkeypatch, entries, item, user) -> None:
    entries.start(item=item, user_id=user.id)
    # Another writer's timer that this unit did not see when it looked.
    monkeypatch.setattr(entries, "running", lambda user_id: None)

    with pytest.raises(RuleViolationError) as info:
        entries.start(item=item, user_id=user.id)
    assert (info.value.rule, info.value.field) == ("timer.one_running", "user_id")


def test_stop_timer_ends_it_now(conn, now, entries, item, user) -> None:
    started, _ = entries.start(item=item, user_id=user.id)
    later = now + 2 * HOUR

    stopped = TimeEntryRepository(conn, later).stop(user.id)

    assert (stopped.id, stopped.ended_at, stopped.version) == (started.id, later, 2)
    assert stopped.ended_at == stopped.started_at + 2 * HOUR
    assert entries.running(user.id) is None
    with pytest.raises(NotFoundError):
        entries.stop(user.id)


def test_create_manual_entry_reads_back_equal(entries, item, user, now) -> None:
    created = entries.create_manual(
        item=item,
        user_id=user.id,
        started_at=now - 3 * HOUR,
        ended_at=now - HOUR,
        note="pairing",
    )

    assert not created.running
    assert created.ended_at == created.started_at + 2 * HOUR
    assert entries.get(created.id) == created
    assert entries.running(user.id) is None


def test_create_manual_entry_in_other_zone_is_stored_in_utc(entries, item, user, now) -> None:
    plus_two = timezone(timedelta(hours=2))
    start = (now - 3 * HOUR).astimezone(plus_two)

    created = entries.create_manual(
        item=item, user_id=user.id, started_at=start, ended_at=start + HOUR
    )

    assert created.started_at.utcoffset() == timedelta(0)
    assert entries.get(created.id) == created
    assert created.started_at == start


def test_update_to_the_same_instants_in_another_zone_changes_nothing(
    entries, item, user, now
) -> None:
    created = entries.create_manual(
        item=item, user_id=user.id, started_at=now - 3 * HOUR, ended_at=now - HOUR
    )
    plus_two = timezone(timedelta(hours=2))
    same = TimeEntryPatch(
        started_at=created.started_at.astimezone(plus_two),
        ended_at=created.ended_at.astimezone(plus_two),
    )

    updated = entries.update(created.id, 1, same)

    assert (updated.entity, updated.changes) == (created, [])
    assert entries.get(created.id).version == 1


@pytest.mark.parametrize(
    ("start", "end", "rule"),
    [
        (-HOUR, -2 * HOUR, "timer.order"),
        (-HOUR, -HOUR, "timer.order"),
        (-26 * HOUR, -HOUR, "timer.max_duration"),
        (-HOUR, HOUR, "timer.future"),
    ],
)
def test_create_manual_entry_breaking_a_rule_is_refused(entries, item, user, now, start, end, rule):
    with pytest.raises(RuleViolationError) as info:
        entries.create_manual(
            item=item, user_id=user.id, started_at=now + start, ended_at=now + end
        )
    assert (info.value.rule, info.value.field) == (rule, "ended_at")
    assert entries.list(user_id=user.id) == []


def test_create_manual_entry_with_naive_time_is_refused(entries, item, user, now) -> None:
    naive = now.replace(tzinfo=None)

    with pytest.raises(ValidationError) as info:
        entries.create_manual(item=item, user_id=user.id, started_at=naive - HOUR, ended_at=now)
    assert info.value.field == "started_at"


def test_update_stopped_entry_rechecks_times(entries, item, user, now) -> None:
    created = entries.create_manual(
        item=item, user_id=user.id, started_at=now - 3 * HOUR, ended_at=now - HOUR
    )

    updated = entries.update(created.id, 1, TimeEntryPatch(ended_at=now - 2 * HOUR, note="shorter"))

    assert updated.entity.ended_at == updated.entity.started_at + HOUR
    assert {c.field for c in updated.changes} == {"ended_at", "note"}
    assert entries.get(created.id) == updated.entity
    with pytest.raises(RuleViolationError) as info:
        entries.update(created.id, 2, TimeEntryPatch(ended_at=now + HOUR))
    assert info.value.rule == "timer.future"
    with pytest.raises(ValidationError) as refused:
        entries.update(created.id, 2, TimeEntryPatch(ended_at=None))
    assert refused.value.field == "ended_at"


def test_update_note_of_zero_length_timer_entry_is_allowed(entries, item, user) -> None:
    first, _ = entries.start(item=item, user_id=user.id)
    entries.stop(user.id)

    updated = entries.update(first.id, 2, TimeEntryPatch(note="oops, started by mistake"))

    assert entries.get(first.id).note == "oops, started by mistake"
    assert updated.entity.version == 3


def test_update_running_entry_may_change_only_start_and_note(entries, item, user, now) -> None:
    running, _ = entries.start(item=item, user_id=user.id)

    updated = entries.update(running.id, 1, TimeEntryPatch(started_at=now - HOUR, note="earlier"))
    assert entries.running(user.id) == updated.entity
    assert updated.entity.started_at == now - HOUR

    with pytest.raises(ValidationError) as info:
        entries.update(running.id, 2, TimeEntryPatch(ended_at=now))
    assert info.value.field == "ended_at"
    with pytest.raises(RuleViolationError) as info:
        entries.update(running.id, 2, TimeEntryPatch(started_at=now + HOUR))
    assert (info.value.rule, info.value.field) == ("timer.future", "started_at")


def test_update_time_entry_with_stale_version_conflicts(entries, item, user) -> None:
    running, _ = entries.start(item=item, user_id=user.id)
    current = entries.update(running.id, 1, TimeEntryPatch(note="a")).entity

    with pytest.raises(ConflictError) as info:
        entries.update(running.id, 1, TimeEntryPatch(note="b"))
    assert (info.value.current_version, info.value.current) == (2, current)
    assert entries.get(running.id).note == "a"


def test_soft_delete_time_entry_hides_it_and_frees_the_timer(conn, entries, item, user, now):
    running, _ = entries.start(item=item, user_id=user.id)

    deleted = entries.soft_delete(running.id, 1)

    assert (deleted.version, deleted.deleted_at) == (2, now)
    assert entries.find(running.id) is None
    assert entries.running(user.id) is None
    row = conn.execute("SELECT deleted_at FROM time_entries WHERE id = ?", (running.id,)).fetchone()
    assert row["deleted_at"] == db_time(now)
    _, stopped = entries.start(item=item, user_id=user.id)
    assert stopped is None


def test_soft_delete_time_entry_with_stale_version_conflicts(entries, item, user) -> None:
    running, _ = entries.start(item=item, user_id=user.id)
    entries.update(running.id, 1, TimeEntryPatch(note="a"))

    with pytest.raises(ConflictError):
        entries.soft_delete(running.id, 1)
    assert entries.find(running.id) is not None


def test_list_time_entries_newest_first_with_filters_and_paging(
    entries, item, other_item, user, bob, now
) -> None:
    def log(work_item: WorkItem, who: User, hours_ago: int):
        start = now - hours_ago * HOUR
        return entries.create_manual(
            item=work_item, user_id=who.id, started_at=start, ended_at=start + HOUR
        )

    oldest = log(item, user, 9)
    middle = log(other_item, user, 5)
    bobs = log(item, bob, 4)
    newest = log(item, user, 2)

    assert entries.list(user_id=user.id) == [newest, middle, oldest]
    assert entries.list(work_item_id=item.id) == [newest, bobs, oldest]
    assert entries.list(project_id=item.project_id, user_id=bob.id) == [bobs]
    assert entries.list(project_id="nope") == []
    page = entries.list(limit=2)
    assert page == [newest, bobs]
    assert entries.list(before=(page[-1].started_at, page[-1].id)) == [middle, oldest]
    with pytest.raises(ValidationError):
        entries.list(limit=0)


def test_time_entry_on_unknown_item_is_refused_by_database(conn, now, project, user) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO time_entries (id, project_id, work_item_id, user_id, started_at,"
            " created_at, updated_at) VALUES (?, ?, 'nope', ?, ?, ?, ?)",
            (new_id(), project.id, user.id, db_time(now), db_time(now), db_time(now)),
        )


def test_hard_delete_of_work_item_removes_its_time_entries(conn, entries, item, user) -> None:
    running, _ = entries.start(item=item, user_id=user.id)

    conn.execute("DELETE FROM work_items WHERE id = ?", (item.id,))

    assert conn.execute("SELECT 1 FROM time_entries WHERE id = ?", (running.id,)).fetchone() is None
    assert entries.running(user.id) is None
