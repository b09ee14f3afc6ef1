"""SprintRepository: life cycle, one active sprint, edits, and delete to backlog."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import SprintStatus
from pm_core.errors import (
    ConflictError,
    DeleteBlockedError,
    DuplicateError,
    InvalidTransitionError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from pm_core.models import FieldChange, Project, SprintPatch, User
from pm_core.text import DESCRIPTION_MAX, NAME_MAX
from pm_db.codec import db_time, new_id
from pm_db.repositories.sprints import SprintRepository
from pm_db.unit_of_work import UnitOfWork

DAY = timedelta(days=1)
SINGLE_LINE = st.characters(exclude_categories=("Cc", "Cs"))
MULTI_LINE = st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\r\t")
NAMES = st.one_of(
    st.text(SINGLE_LINE, min_size=1, max_size=NAME_MAX).filter(str.strip),
    st.sampled_from(["🏃" * NAME_MAX, "冲刺" * (NAME_MAX // 2), "S"]),
)
GOALS = st.one_of(
    st.text(MULTI_LINE, max_size=300),
    st.sampled_from(["", "目" * DESCRIPTION_MAX, "line one\r\nline two\ttabbed 🎯"]),
)
OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
STARTS = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=OFFSETS),
)
LENGTHS = st.one_of(
    st.none(), st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=90))
)


def insert_item(
    conn: sqlite3.Connection,
    project_id: str,
    number: int,
    created_by: str,
    *,
    sprint_id: str | None,
    deleted: bool = False,
) -> str:
    """A work item row written directly (this file tests sprints, not items)."""
    item_id = new_id()
    stamp = db_time(datetime(2026, 1, 1, tzinfo=UTC))
    conn.execute(
        "INSERT INTO work_items (id, project_id, item_number, type, title, sprint_id, created_by, "
        "created_at, updated_at, deleted_at) VALUES (?, ?, ?, 'task', ?, ?, ?, ?, ?, ?)",
        (
            item_id,
            project_id,
            number,
            f"item {number}",
            sprint_id,
            created_by,
            stamp,
            stamp,
            stamp if deleted else None,
        ),
    )
    return item_id


def test_create_sprint_is_planned_and_reads_back(
    uow: UnitOfWork, project: Project, now: datetime
) -> None:
    sprint = uow.sprints.create(
        project_id=project.id, name="Sprint 1", goal="Ship it", starts_at=now, ends_at=now + DAY
    )

    assert (sprint.status, sprint.version, sprint.created_at) == (SprintStatus.PLANNED, 1, now)
    assert uow.sprints.get(sprint.id) == sprint
    assert uow.sprints.find(sprint.id) == sprint
    assert uow.sprints.list(project.id) == [sprint]


@pytest.mark.parametrize("deleted", [False, True])
def test_create_sprint_in_missing_project_raises_not_found(
    uow: UnitOfWork, project: Project, deleted: bool
) -> None:
    project_id = project.id if deleted else "p-missing"
    if deleted:
        uow.projects.soft_delete(project.id, expected_version=None)

    with pytest.raises(NotFoundError) as excinfo:
        uow.sprints.create(project_id=project_id, name="Sprint 1")

    assert excinfo.value.entity == "project"


@pytest.mark.parametrize("length", [timedelta(0), -DAY])
def test_create_sprint_ending_before_it_starts_raises_validation_error(
    uow: UnitOfWork, project: Project, now: datetime, length: timedelta
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        uow.sprints.create(project_id=project.id, name="S", starts_at=now, ends_at=now + length)

    assert excinfo.value.field == "ends_at"
    assert uow.sprints.list(project.id) == []


def test_create_sprint_with_naive_start_raises_validation_error(
    uow: UnitOfWork, project: Project
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        uow.sprints.create(project_id=project.id, name="S", starts_at=datetime(2026, 1, 1))

    assert excinfo.value.field == "starts_at"


def test_get_unknown_sprint_raises_not_found(uow: UnitOfWork) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        uow.sprints.get("s-missing")

    assert excinfo.value.entity == "sprint"


def test_list_orders_by_start_with_undated_sprints_last(
    conn: sqlite3.Connection, now: datetime, project: Project
) -> None:
    def at(seconds: int) -> SprintRepository:
        return SprintRepository(conn, now + timedelta(seconds=seconds))

    undated_old = at(0).create(project_id=project.id, name="someday")
    late = at(1).create(project_id=project.id, name="late", starts_at=now + 10 * DAY)
    undated_new = at(2).create(project_id=project.id, name="maybe")
    early = at(3).create(project_id=project.id, name="early", starts_at=now + DAY)

    assert at(4).list(project.id) == [early, late, undated_old, undated_new]


def test_list_filters_by_status(uow: UnitOfWork, project: Project) -> None:
    planned = uow.sprints.create(project_id=project.id, name="planned")
    running = uow.sprints.create(project_id=project.id, name="running")
    running = uow.sprints.transition(running.id, 1, SprintStatus.ACTIVE).entity

    assert uow.sprints.list(project.id, statuses=[SprintStatus.ACTIVE]) == [running]
    assert uow.sprints.list(project.id, statuses={SprintStatus.PLANNED}) == [planned]
    assert uow.sprints.list(project.id, statuses=[]) == []
    assert len(uow.sprints.list(project.id, statuses=list(SprintStatus))) == 2


def test_active_returns_the_running_sprint_of_that_project_only(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    other = uow.projects.create(key="OPS", name="Operations", created_by=user.id)
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    assert uow.sprints.active(project.id) is None

    started = uow.sprints.transition(sprint.id, 1, SprintStatus.ACTIVE)

    assert uow.sprints.active(project.id) == started.entity
    assert uow.sprints.active(other.id) is None


def test_update_sprint_changes_fields_and_reports_them(
    conn: sqlite3.Connection, now: datetime, project: Project
) -> None:
    sprint = SprintRepository(conn, now).create(project_id=project.id, name="S1")
    later = SprintRepository(conn, now + DAY)

    updated = later.update(sprint.id, 1, SprintPatch(name="Sprint One", ends_at=now + 14 * DAY))

    assert updated.entity.version == 2
    assert updated.entity.updated_at == now + DAY
    assert updated.changes == [
        FieldChange(field="name", old="S1", new="Sprint One"),
        FieldChange(
            field="ends_at", old=None, new=updated.entity.model_dump(mode="json")["ends_at"]
        ),
    ]
    assert later.get(sprint.id) == updated.entity


def test_update_sprint_with_stale_version_conflicts_carrying_current(
    uow: UnitOfWork, project: Project
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    current = uow.sprints.update(sprint.id, 1, SprintPatch(goal="new goal")).entity

    with pytest.raises(ConflictError) as excinfo:
        uow.sprints.update(sprint.id, 1, SprintPatch(name="mine"))

    assert (excinfo.value.current_version, excinfo.value.current) == (2, current)
    assert uow.sprints.get(sprint.id).name == "S1"


def test_update_sprint_dates_out_of_order_raises_validation_error(
    uow: UnitOfWork, project: Project, now: datetime
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1", starts_at=now)

    with pytest.raises(ValidationError) as excinfo:
        uow.sprints.update(sprint.id, 1, SprintPatch(ends_at=now - DAY))

    assert excinfo.value.field == "ends_at"
    assert uow.sprints.get(sprint.id) == sprint


@pytest.mark.parametrize("end", [SprintStatus.COMPLETED, SprintStatus.CANCELLED])
def test_update_finished_sprint_is_refused(
    uow: UnitOfWork, project: Project, end: SprintStatus
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    uow.sprints.transition(sprint.id, 1, SprintStatus.ACTIVE)
    finished = uow.sprints.transition(sprint.id, 2, end).entity

    with pytest.raises(RuleViolationError) as excinfo:
        uow.sprints.update(sprint.id, 3, SprintPatch(name="rename"))

    assert excinfo.value.rule == "sprint.immutable"
    assert uow.sprints.get(sprint.id) == finished


def test_transition_walks_the_life_cycle(uow: UnitOfWork, project: Project) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")

    started = uow.sprints.transition(sprint.id, 1, SprintStatus.ACTIVE)
    done = uow.sprints.transition(sprint.id, 2, SprintStatus.COMPLETED)

    assert started.changes == [FieldChange(field="status", old="planned", new="active")]
    assert (done.entity.status, done.entity.version) == (SprintStatus.COMPLETED, 3)
    assert uow.sprints.get(sprint.id) == done.entity
    assert uow.sprints.active(project.id) is None


def test_transition_not_in_the_life_cycle_is_refused(uow: UnitOfWork, project: Project) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")

    with pytest.raises(InvalidTransitionError) as excinfo:
        uow.sprints.transition(sprint.id, 1, SprintStatus.COMPLETED)

    assert (excinfo.value.current, excinfo.value.target) == ("planned", "completed")
    assert uow.sprints.get(sprint.id) == sprint


def test_starting_a_second_sprint_is_refused(uow: UnitOfWork, project: Project) -> None:
    first = uow.sprints.create(project_id=project.id, name="S1")
    second = uow.sprints.create(project_id=project.id, name="S2")
    uow.sprints.transition(first.id, 1, SprintStatus.ACTIVE)

    with pytest.raises(RuleViolationError) as excinfo:
        uow.sprints.transition(second.id, 1, SprintStatus.ACTIVE)

    assert (excinfo.value.rule, excinfo.value.field) == ("sprint.one_active", "status")
    assert uow.sprints.get(second.id) == second


def test_next_sprint_can_start_once_the_active_one_is_completed(
    uow: UnitOfWork, project: Project
) -> None:
    first = uow.sprints.create(project_id=project.id, name="S1")
    second = uow.sprints.create(project_id=project.id, name="S2")
    uow.sprints.transition(first.id, 1, SprintStatus.ACTIVE)
    uow.sprints.transition(first.id, 2, SprintStatus.COMPLETED)

    started = uow.sprints.transition(second.id, 1, SprintStatus.ACTIVE)

    assert uow.sprints.active(project.id) == started.entity


def test_one_active_index_backstop_raises_the_same_rule_error(
    uow: UnitOfWork, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = uow.sprints.create(project_id=project.id, name="S1")
    second = uow.sprints.create(project_id=project.id, name="S2")
    uow.sprints.transition(first.id, 1, SprintStatus.ACTIVE)
    # A stale read of the active sprint: only the unique index can catch it now.
    monkeypatch.setattr(SprintRepository, "active", lambda self, project_id: None)

    with pytest.raises(RuleViolationError) as excinfo:
        uow.sprints.transition(second.id, 1, SprintStatus.ACTIVE)

    assert excinfo.value.rule == "sprint.one_active"
    assert isinstance(excinfo.value.__cause__, sqlite3.IntegrityError)
    assert uow.sprints.get(second.id).status is SprintStatus.PLANNED


def test_transition_with_stale_version_conflicts(uow: UnitOfWork, project: Project) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    current = uow.sprints.update(sprint.id, 1, SprintPatch(goal="g")).entity

    with pytest.raises(ConflictError) as excinfo:
        uow.sprints.transition(sprint.id, 1, SprintStatus.ACTIVE)

    assert (excinfo.value.current_version, excinfo.value.current) == (2, current)


def test_deleting_the_active_sprint_is_blocked(uow: UnitOfWork, project: Project) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    started = uow.sprints.transition(sprint.id, 1, SprintStatus.ACTIVE).entity

    with pytest.raises(DeleteBlockedError) as excinfo:
        uow.sprints.soft_delete(sprint.id, 2)

    assert excinfo.value.entity_id == sprint.id
    assert uow.sprints.get(sprint.id) == started


def test_soft_delete_with_stale_version_conflicts(uow: UnitOfWork, project: Project) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")

    with pytest.raises(ConflictError) as excinfo:
        uow.sprints.soft_delete(sprint.id, 4)

    assert (excinfo.value.current_version, excinfo.value.current) == (1, sprint)
    assert uow.sprints.get(sprint.id) == sprint


def test_deleted_sprint_is_gone_from_reads_but_the_row_stays(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, project: Project
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")

    deleted = uow.sprints.soft_delete(sprint.id, 1)

    assert (deleted.deleted_at, deleted.version) == (now, 2)
    assert uow.cascades.release_sprint_items(sprint.id) == []
    assert uow.sprints.find(sprint.id) is None
    assert uow.sprints.list(project.id) == []
    with pytest.raises(NotFoundError):
        uow.sprints.get(sprint.id)
    row = conn.execute("SELECT deleted_at FROM sprints WHERE id = ?", (sprint.id,)).fetchone()
    assert row["deleted_at"] == db_time(now)


def test_deleting_a_sprint_moves_its_live_items_to_the_backlog(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, project: Project, user: User
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    other = uow.sprints.create(project_id=project.id, name="S2")
    in_sprint = [insert_item(conn, project.id, n, user.id, sprint_id=sprint.id) for n in (1, 2)]
    gone = insert_item(conn, project.id, 3, user.id, sprint_id=sprint.id, deleted=True)
    elsewhere = insert_item(conn, project.id, 4, user.id, sprint_id=other.id)

    uow.sprints.soft_delete(sprint.id, 1)
    moved = uow.cascades.release_sprint_items(sprint.id)

    assert [item.id for item in moved] == sorted(in_sprint)
    assert [(item.sprint_id, item.version, item.updated_at) for item in moved] == [
        (None, 2, now),
        (None, 2, now),
    ]
    rows = {
        row["id"]: (row["sprint_id"], row["version"], row["updated_at"])
        for row in conn.execute("SELECT id, sprint_id, version, updated_at FROM work_items")
    }
    for item_id in in_sprint:
        assert rows[item_id] == (None, 2, db_time(now))
    assert rows[gone][:2] == (sprint.id, 1)
    assert rows[elsewhere][:2] == (other.id, 1)
    assert [uow.work_items.get(item_id).sprint_id for item_id in in_sprint] == [None, None]


def test_hard_deleting_a_sprint_row_unlinks_its_items(
    conn: sqlite3.Connection, uow: UnitOfWork, project: Project, user: User
) -> None:
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    item_id = insert_item(conn, project.id, 1, user.id, sprint_id=sprint.id)

    conn.execute("DELETE FROM sprints WHERE id = ?", (sprint.id,))

    row = conn.execute("SELECT sprint_id FROM work_items WHERE id = ?", (item_id,)).fetchone()
    assert row["sprint_id"] is None


@settings(max_examples=50)
@given(name=NAMES, goal=GOALS, starts_at=STARTS, length=LENGTHS)
def test_created_sprint_reads_back_equal(
    uow: UnitOfWork,
    project: Project,
    name: str,
    goal: str,
    starts_at: datetime | None,
    length: timedelta | None,
) -> None:
    ends_at = None if starts_at is None or length is None else starts_at + length

    sprint = uow.sprints.create(
        project_id=project.id, name=name, goal=goal, starts_at=starts_at, ends_at=ends_at
    )

    assert uow.sprints.get(sprint.id) == sprint
    assert (sprint.goal, sprint.starts_at, sprint.ends_at) == (goal, starts_at, ends_at)
    uow.sprints.soft_delete(sprint.id, None)  # frees the name for the next example


def test_create_sprint_with_a_live_name_raises_duplicate_naming_the_holder(
    uow: UnitOfWork, project: Project
) -> None:
    first = uow.sprints.create(project_id=project.id, name="S1")
    with pytest.raises(DuplicateError) as caught:
        uow.sprints.create(project_id=project.id, name="S1")
    assert (caught.value.key, caught.value.entity_id) == ("name", first.id)


def test_rename_sprint_to_a_live_name_raises_duplicate(uow: UnitOfWork, project: Project) -> None:
    uow.sprints.create(project_id=project.id, name="S1")
    second = uow.sprints.create(project_id=project.id, name="S2")
    with pytest.raises(DuplicateError):
        uow.sprints.update(second.id, None, SprintPatch(name="S1"))


def test_deleted_sprint_frees_its_name(uow: UnitOfWork, project: Project) -> None:
    first = uow.sprints.create(project_id=project.id, name="S1")
    uow.sprints.soft_delete(first.id, None)
    again = uow.sprints.create(project_id=project.id, name="S1")
    assert again.id != first.id
