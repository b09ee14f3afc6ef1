"""SwimLaneRepository: default board, positions, unique live names, soft delete."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import WorkItemStatus, WorkItemType
from pm_core.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from pm_core.models import FieldChange, Project, SwimLanePatch, User
from pm_core.text import NAME_MAX
from pm_db.codec import db_time
from pm_db.repositories.swim_lanes import DEFAULT_LANES
from pm_db.unit_of_work import UnitOfWork

SINGLE_LINE = st.characters(exclude_categories=("Cc", "Cs"))
NAMES = st.one_of(
    st.text(SINGLE_LINE, min_size=1, max_size=NAME_MAX).filter(str.strip),
    st.sampled_from(["🚧" * NAME_MAX, "进行中" * (NAME_MAX // 3), "Q"]),
)


def test_create_defaults_builds_the_standard_board(uow: UnitOfWork, project: Project) -> None:
    lanes = uow.swim_lanes.create_defaults(project.id)

    assert [(lane.name, lane.status, lane.position) for lane in lanes] == [
        ("Backlog", WorkItemStatus.BACKLOG, 0),
        ("To Do", WorkItemStatus.TODO, 1),
        ("In Progress", WorkItemStatus.IN_PROGRESS, 2),
        ("In Review", WorkItemStatus.IN_REVIEW, 3),
        ("Done", WorkItemStatus.DONE, 4),
    ]
    assert len(DEFAULT_LANES) == 5
    assert uow.swim_lanes.list(project.id) == lanes


def test_create_lane_reads_back_through_every_read(
    uow: UnitOfWork, project: Project, now: datetime
) -> None:
    lane = uow.swim_lanes.create(
        project_id=project.id, name="Blocked", status=WorkItemStatus.IN_PROGRESS, wip_limit=3
    )

    assert (lane.position, lane.wip_limit, lane.version, lane.created_at) == (0, 3, 1, now)
    assert uow.swim_lanes.get(lane.id) == lane
    assert uow.swim_lanes.find(lane.id) == lane
    assert uow.swim_lanes.list(project.id) == [lane]


def test_create_lane_without_position_goes_after_the_last_live_lane(
    uow: UnitOfWork, project: Project
) -> None:
    defaults = uow.swim_lanes.create_defaults(project.id)
    uow.swim_lanes.soft_delete(defaults[4].id, 1)  # frees the done status
    far = uow.swim_lanes.create(
        project_id=project.id, name="Far", status=WorkItemStatus.DONE, position=9
    )
    uow.swim_lanes.soft_delete(far.id, 1)

    lane = uow.swim_lanes.create(project_id=project.id, name="Archive", status=WorkItemStatus.DONE)

    assert lane.position == 4
    assert uow.swim_lanes.list(project.id)[-1] == lane


def test_list_orders_lanes_by_position(uow: UnitOfWork, project: Project) -> None:
    right = uow.swim_lanes.create(
        project_id=project.id, name="Right", status=WorkItemStatus.DONE, position=7
    )
    left = uow.swim_lanes.create(
        project_id=project.id, name="Left", status=WorkItemStatus.TODO, position=2
    )

    assert uow.swim_lanes.list(project.id) == [left, right]


@pytest.mark.parametrize("deleted", [False, True])
def test_create_lane_in_missing_project_raises_not_found(
    uow: UnitOfWork, project: Project, deleted: bool
) -> None:
    project_id = project.id if deleted else "p-missing"
    if deleted:
        uow.projects.soft_delete(project.id, expected_version=None)

    with pytest.raises(NotFoundError) as excinfo:
        uow.swim_lanes.create(project_id=project_id, name="Lane", status=WorkItemStatus.TODO)

    assert excinfo.value.entity == "project"


@pytest.mark.parametrize(
    ("field", "value"), [("wip_limit", 0), ("position", -1), ("status", "blocked"), ("name", " ")]
)
def test_create_lane_with_invalid_field_raises_validation_error(
    uow: UnitOfWork, project: Project, field: str, value: object
) -> None:
    fields: dict[str, object] = {"name": "Lane", "status": WorkItemStatus.TODO, field: value}

    with pytest.raises(ValidationError) as excinfo:
        uow.swim_lanes.create(project_id=project.id, **fields)  # type: ignore[arg-type]

    assert excinfo.value.field == field
    assert uow.swim_lanes.list(project.id) == []


def test_create_lane_with_a_live_name_raises_duplicate(uow: UnitOfWork, project: Project) -> None:
    lanes = uow.swim_lanes.create_defaults(project.id)

    uow.swim_lanes.soft_delete(lanes[3].id, 1)  # frees in_review, so only the name clashes
    with pytest.raises(DuplicateError) as excinfo:
        uow.swim_lanes.create(project_id=project.id, name="Done", status=WorkItemStatus.IN_REVIEW)

    assert (excinfo.value.key, excinfo.value.entity_id) == ("name", lanes[4].id)


def test_second_live_lane_of_a_status_breaks_the_rule_naming_the_holder(
    uow: UnitOfWork, project: Project
) -> None:
    lanes = uow.swim_lanes.create_defaults(project.id)

    with pytest.raises(RuleViolationError) as excinfo:
        uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.IN_REVIEW)
    assert (excinfo.value.rule, excinfo.value.field) == ("swim_lane.one_per_status", "status")
    assert "'In Review'" in excinfo.value.message
    with pytest.raises(RuleViolationError):
        uow.swim_lanes.update(lanes[0].id, None, SwimLanePatch(status=WorkItemStatus.DONE))
    assert uow.swim_lanes.list(project.id) == lanes


def test_lane_loads_count_live_items_of_each_status_against_the_limit(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    lanes = uow.swim_lanes.create_defaults(project.id)
    limited = uow.swim_lanes.update(lanes[2].id, None, SwimLanePatch(wip_limit=1)).entity
    for title in ("a", "b"):
        uow.work_items.create(
            project_id=project.id,
            created_by=user.id,
            type=WorkItemType.TASK,
            title=title,
            status=WorkItemStatus.IN_PROGRESS,
        )
    loads = uow.swim_lanes.loads(project.id, uow.swim_lanes.list(project.id))
    assert [(load.lane_id, load.item_count, load.over_limit) for load in loads] == [
        (lanes[0].id, 0, False),
        (lanes[1].id, 0, False),
        (limited.id, 2, True),
        (lanes[3].id, 0, False),
        (lanes[4].id, 0, False),
    ]
    assert uow.swim_lanes.load_of_status(project.id, WorkItemStatus.IN_PROGRESS) == loads[2]


def test_same_lane_name_in_another_project_is_allowed(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    other = uow.projects.create(key="OPS", name="Operations", created_by=user.id)
    uow.swim_lanes.create_defaults(project.id)

    lanes = uow.swim_lanes.create_defaults(other.id)

    assert uow.swim_lanes.list(other.id) == lanes


def test_lane_name_is_free_again_after_delete(
    uow: UnitOfWork, conn: sqlite3.Connection, project: Project
) -> None:
    first = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.IN_REVIEW)
    uow.swim_lanes.soft_delete(first.id, 1)

    again = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.TODO)

    assert again.id != first.id
    assert uow.swim_lanes.list(project.id) == [again]
    count = conn.execute("SELECT count(*) FROM swim_lanes WHERE name = 'QA'").fetchone()[0]
    assert count == 2


def test_update_lane_changes_fields_and_reports_them(uow: UnitOfWork, project: Project) -> None:
    lane = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.IN_REVIEW)

    updated = uow.swim_lanes.update(lane.id, 1, SwimLanePatch(name="Testing", wip_limit=4))

    assert updated.entity.version == 2
    assert updated.changes == [
        FieldChange(field="name", old="QA", new="Testing"),
        FieldChange(field="wip_limit", old=None, new=4),
    ]
    assert uow.swim_lanes.get(lane.id) == updated.entity


def test_update_lane_to_a_live_name_raises_duplicate(uow: UnitOfWork, project: Project) -> None:
    lanes = uow.swim_lanes.create_defaults(project.id)

    with pytest.raises(DuplicateError) as excinfo:
        uow.swim_lanes.update(lanes[0].id, 1, SwimLanePatch(name="Done"))

    assert excinfo.value.entity_id == lanes[4].id
    assert uow.swim_lanes.get(lanes[0].id) == lanes[0]


def test_update_lane_with_stale_version_conflicts_carrying_current(
    uow: UnitOfWork, project: Project
) -> None:
    lane = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.IN_REVIEW)
    current = uow.swim_lanes.update(lane.id, 1, SwimLanePatch(position=3)).entity

    with pytest.raises(ConflictError) as excinfo:
        uow.swim_lanes.update(lane.id, 1, SwimLanePatch(name="mine"))

    assert (excinfo.value.current_version, excinfo.value.current) == (2, current)
    assert uow.swim_lanes.get(lane.id) == current


def test_deleted_lane_is_gone_from_reads_but_the_row_stays(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, project: Project
) -> None:
    lane = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.TODO)

    deleted = uow.swim_lanes.soft_delete(lane.id, None)

    assert (deleted.deleted_at, deleted.version) == (now, 2)
    assert uow.swim_lanes.find(lane.id) is None
    assert uow.swim_lanes.list(project.id) == []
    with pytest.raises(NotFoundError):
        uow.swim_lanes.get(lane.id)
    with pytest.raises(NotFoundError):
        uow.swim_lanes.update(lane.id, None, SwimLanePatch(name="back"))
    row = conn.execute("SELECT deleted_at FROM swim_lanes WHERE id = ?", (lane.id,)).fetchone()
    assert row["deleted_at"] == db_time(now)


def test_soft_delete_lane_with_stale_version_conflicts(uow: UnitOfWork, project: Project) -> None:
    lane = uow.swim_lanes.create(project_id=project.id, name="QA", status=WorkItemStatus.TODO)

    with pytest.raises(ConflictError) as excinfo:
        uow.swim_lanes.soft_delete(lane.id, 2)

    assert (excinfo.value.current_version, excinfo.value.current) == (1, lane)
    assert uow.swim_lanes.get(lane.id) == lane


@settings(max_examples=50)
@given(
    name=NAMES,
    status=st.sampled_from(WorkItemStatus),
    position=st.one_of(st.none(), st.integers(min_value=0, max_value=1_000_000)),
    wip_limit=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000)),
)
def test_created_lane_reads_back_equal(
    uow: UnitOfWork,
    project: Project,
    name: str,
    status: WorkItemStatus,
    position: int | None,
    wip_limit: int | None,
) -> None:
    lane = uow.swim_lanes.create(
        project_id=project.id, name=name, status=status, position=position, wip_limit=wip_limit
    )

    assert uow.swim_lanes.get(lane.id) == lane
    # Leave the name free for the next example.
    uow.swim_lanes.soft_delete(lane.id, 1)
