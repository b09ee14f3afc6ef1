"""WorkItemRepository against a real migrated tenant database."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import DependencyType, Priority, SprintStatus, WorkItemStatus, WorkItemType
from pm_core.errors import (
    ConflictError,
    DeleteBlockedError,
    HierarchyError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from pm_core.models import Project, User, WorkItem, WorkItemPatch
from pm_core.text import DESCRIPTION_MAX, TITLE_MAX
from pm_db.cascades import Cascades
from pm_db.codec import db_time, new_id
from pm_db.repositories.comments import CommentRepository
from pm_db.repositories.dependencies import DependencyRepository
from pm_db.repositories.sprints import SprintRepository
from pm_db.repositories.time_entries import TimeEntryRepository
from pm_db.repositories.work_items import WorkItemFilter, WorkItemRepository
from pm_db.unit_of_work import UnitOfWork
from tests.pm_db.conftest import soft_delete_user

EPIC, STORY, TASK = WorkItemType.EPIC, WorkItemType.STORY, WorkItemType.TASK


@pytest.fixture
def items(uow: UnitOfWork) -> WorkItemRepository:
    return uow.work_items


@pytest.fixture
def bob(uow: UnitOfWork) -> User:
    return uow.users.upsert(user_id="u-bob", display_name="Bob")


@pytest.fixture
def other_project(uow: UnitOfWork, user: User) -> Project:
    return uow.projects.create(key="OPS", name="Operations", created_by=user.id)


def make_sprint(conn: sqlite3.Connection, now: datetime, project_id: str, status: str) -> str:
    sprint_id = new_id()
    conn.execute(
        "INSERT INTO sprints (id, project_id, name, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (sprint_id, project_id, f"Sprint {status}", status, db_time(now), db_time(now)),
    )
    return sprint_id


def test_create_work_item_reads_back_equal(items, project, user) -> None:
    created = items.create(
        project_id=project.id,
        type=STORY,
        title="  Login page  ",
        created_by=user.id,
        description="line one\nline two",
        priority=Priority.HIGH,
        story_points=5,
        assignee_id=user.id,
    )

    assert created.title == "Login page"
    assert created.version == 1
    assert created.item_number == 1
    assert items.get(created.id) == created


def test_create_work_item_numbers_count_per_project(items, project, other_project, user) -> None:
    numbers = [
        items.create(project_id=pid, type=TASK, title="t", created_by=user.id).item_number
        for pid in (project.id, project.id, other_project.id, project.id, other_project.id)
    ]

    assert numbers == [1, 2, 1, 3, 2]


def test_item_number_is_never_reused_after_delete(items, project, user) -> None:
    first = items.create(project_id=project.id, type=TASK, title="a", created_by=user.id)
    second = items.create(project_id=project.id, type=TASK, title="b", created_by=user.id)
    items.soft_delete(second.id, second.version)

    third = items.create(project_id=project.id, type=TASK, title="c", created_by=user.id)

    assert [first.item_number, third.item_number] == [1, 3]


def test_refused_create_does_not_burn_an_item_number(items, project, user) -> None:
    with pytest.raises(ValidationError):
        items.create(project_id=project.id, type=TASK, title="   ", created_by=user.id)

    assert (
        items.create(project_id=project.id, type=TASK, title="a", created_by=user.id).item_number
        == 1
    )


def test_create_work_item_in_unknown_or_deleted_project_not_found(
    uow, items, project, user
) -> None:
    with pytest.raises(NotFoundError):
        items.create(project_id="nope", type=TASK, title="t", created_by=user.id)
    uow.projects.soft_delete(project.id, project.version)
    with pytest.raises(NotFoundError):
        items.create(project_id=project.id, type=TASK, title="t", created_by=user.id)


def test_create_work_item_position_defaults_after_the_last(items, project, user) -> None:
    first = items.create(project_id=project.id, type=TASK, title="a", created_by=user.id)
    placed = items.create(
        project_id=project.id, type=TASK, title="b", created_by=user.id, position=10.5
    )
    last = items.create(project_id=project.id, type=TASK, title="c", created_by=user.id)

    assert (first.position, placed.position, last.position) == (1.0, 10.5, 11.5)


@pytest.mark.parametrize("position", [float("nan"), float("inf")])
def test_create_work_item_with_non_finite_position_is_refused(items, project, user, position):
    with pytest.raises(ValidationError) as info:
        items.create(
            project_id=project.id, type=TASK, title="t", created_by=user.id, position=position
        )
    assert info.value.field == "position"


@pytest.mark.parametrize(
    ("child", "parent", "rule"),
    [
        (EPIC, EPIC, "hierarchy.epic_has_no_parent"),
        (STORY, STORY, "hierarchy.parent_type"),
        (STORY, TASK, "hierarchy.parent_type"),
        (TASK, EPIC, "hierarchy.parent_type"),
        (TASK, TASK, "hierarchy.parent_type"),
    ],
)
def test_create_work_item_under_wrong_parent_type_is_refused(
    items, project, user, child, parent, rule
):
    above = items.create(project_id=project.id, type=parent, title="p", created_by=user.id)

    with pytest.raises(HierarchyError) as info:
        items.create(project_id=project.id, type=child, title="c", created_by=user.id, parent=above)
    assert (info.value.rule, info.value.field) == (rule, "parent_id")


def test_create_work_item_under_parent_of_other_project_is_refused(
    items, project, other_project, user
) -> None:
    epic = items.create(project_id=other_project.id, type=EPIC, title="e", created_by=user.id)

    with pytest.raises(HierarchyError) as info:
        items.create(project_id=project.id, type=STORY, title="s", created_by=user.id, parent=epic)
    assert info.value.rule == "hierarchy.same_project"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_create_work_item_in_closed_sprint_is_refused(conn, now, items, project, user, status):
    sprint_id = make_sprint(conn, now, project.id, status)

    with pytest.raises(RuleViolationError) as info:
        items.create(
            project_id=project.id,
            type=TASK,
            title="t",
            created_by=user.id,
            sprint=SprintRepository(conn, now).get(sprint_id),
        )
    assert (info.value.rule, info.value.field) == ("work_item.sprint_closed", "sprint_id")


def test_create_work_item_in_sprint_of_other_project_is_refused(
    conn, now, items, project, other_project, user
) -> None:
    sprint_id = make_sprint(conn, now, other_project.id, "planned")

    with pytest.raises(RuleViolationError) as info:
        items.create(
            project_id=project.id,
            type=TASK,
            title="t",
            created_by=user.id,
            sprint=SprintRepository(conn, now).get(sprint_id),
        )
    assert info.value.field == "sprint_id"


def test_create_work_item_in_open_sprint_succeeds(conn, now, items, project, user) -> None:
    sprint_id = make_sprint(conn, now, project.id, "active")

    item = items.create(
        project_id=project.id,
        type=TASK,
        title="t",
        created_by=user.id,
        sprint=SprintRepository(conn, now).get(sprint_id),
    )

    assert items.get(item.id).sprint_id == sprint_id


def test_create_work_item_with_unknown_assignee_not_found(uow, items, project, user):
    gone = uow.users.upsert(user_id="u-gone", display_name="Gone")
    soft_delete_user(uow, gone.id)
    for assignee_id in ("nope", gone.id):
        with pytest.raises(NotFoundError) as info:
            items.create(
                project_id=project.id,
                type=TASK,
                title="t",
                created_by=user.id,
                assignee_id=assignee_id,
            )
        assert info.value.entity == "user"


def test_find_by_key_accepts_lower_case(items, project, user) -> None:
    items.create(project_id=project.id, type=TASK, title="one", created_by=user.id)
    second = items.create(project_id=project.id, type=TASK, title="two", created_by=user.id)

    assert items.find_by_key("pm-2") == second
    assert items.find_by_key("PM-2") == second


def test_find_by_key_of_missing_or_deleted_item_finds_nothing(items, project, user) -> None:
    item = items.create(project_id=project.id, type=TASK, title="one", created_by=user.id)
    items.soft_delete(item.id, item.version)

    for key in ("PM-1", "PM-9", "XX-1"):
        assert items.find_by_key(key) is None
    with pytest.raises(ValidationError):
        items.find_by_key("PM-")


@pytest.fixture
def board(
    conn, now, items: WorkItemRepository, project, other_project, user, bob
) -> dict[str, WorkItem]:
    """E1 > S1 > (T1 done, T2), E1 > S2; orphan T3; one item in another project."""
    sprint = SprintRepository(conn, now).get(make_sprint(conn, now, project.id, "active"))

    def add(name: str, type_: WorkItemType, **fields: Any) -> WorkItem:
        return items.create(
            project_id=project.id, type=type_, title=name, created_by=user.id, **fields
        )

    made: dict[str, WorkItem] = {}
    made["E1"] = add("E1", EPIC)
    made["S1"] = add("S1", STORY, parent=made["E1"], sprint=sprint, assignee_id=user.id)
    made["T1"] = add("T1", TASK, parent=made["S1"], status=WorkItemStatus.DONE, assignee_id=bob.id)
    made["T2"] = add("T2", TASK, parent=made["S1"], status=WorkItemStatus.IN_PROGRESS)
    made["S2"] = add("S2", STORY, parent=made["E1"], sprint=sprint)
    made["T3"] = add("T3", TASK, status=WorkItemStatus.TODO)
    items.create(project_id=other_project.id, type=TASK, title="elsewhere", created_by=user.id)
    return made


def titles(found: list[WorkItem]) -> list[str]:
    return [item.title for item in found]


def test_list_without_filter_returns_live_project_items_by_position(items, project, board):
    items.soft_delete(board["T3"].id, board["T3"].version)

    assert titles(items.list(project.id)) == ["E1", "S1", "T1", "T2", "S2"]


@pytest.mark.parametrize(
    ("make_filter", "expected"),
    [
        (lambda b, u, o: WorkItemFilter(types=[STORY]), ["S1", "S2"]),
        (lambda b, u, o: WorkItemFilter(types=()), []),
        (
            lambda b, u, o: WorkItemFilter(statuses={WorkItemStatus.DONE, WorkItemStatus.TODO}),
            ["T1", "T3"],
        ),
        (lambda b, u, o: WorkItemFilter(include_done=False), ["E1", "S1", "T2", "S2", "T3"]),
        (lambda b, u, o: WorkItemFilter(sprint_id=b["S1"].sprint_id), ["S1", "S2"]),
        (lambda b, u, o: WorkItemFilter(backlog_only=True), ["E1", "T1", "T2", "T3"]),
        (lambda b, u, o: WorkItemFilter(parent_id=b["S1"].id), ["T1", "T2"]),
        (lambda b, u, o: WorkItemFilter(orphans_only=True), ["E1", "T3"]),
        (lambda b, u, o: WorkItemFilter(assignee_id=u.id), ["S1"]),
        (lambda b, u, o: WorkItemFilter(unassigned_only=True), ["E1", "T2", "S2", "T3"]),
        (lambda b, u, o: WorkItemFilter(descendants_of=b["E1"].id), ["S1", "T1", "T2", "S2"]),
        (lambda b, u, o: WorkItemFilter(ancestors_of=b["T2"].id), ["E1", "S1"]),
        (
            lambda b, u, o: WorkItemFilter(descendants_of=b["E1"].id, types=[TASK]),
            ["T1", "T2"],
        ),
        (lambda b, u, o: WorkItemFilter(limit=2), ["E1", "S1"]),
        (
            lambda b, u, o: WorkItemFilter(after=(b["T2"].position, b["T2"].item_number)),
            ["S2", "T3"],
        ),
    ],
)
def test_list_with_filter_returns_matching_items(
    items, project, user, board, make_filter, expected
):
    assert titles(items.list(project.id, make_filter(board, user, project))) == expected


def test_list_pages_through_every_item_with_after(items, project, board) -> None:
    page_filter = WorkItemFilter(limit=4)
    seen: list[str] = []
    while True:
        page = items.list(project.id, page_filter)
        seen += titles(page)
        if len(page) < page_filter.limit:
            break
        page_filter = dataclasses.replace(
            page_filter, after=(page[-1].position, page[-1].item_number)
        )

    assert seen == ["E1", "S1", "T1", "T2", "S2", "T3"]


def test_list_orders_equal_positions_by_item_number(items, project, user) -> None:
    for title in ("a", "b", "c"):
        items.create(project_id=project.id, type=TASK, title=title, created_by=user.id, position=1)
    items.create(project_id=project.id, type=TASK, title="first", created_by=user.id, position=0)

    assert titles(items.list(project.id)) == ["first", "a", "b", "c"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"sprint_id": "s", "backlog_only": True}, "sprint_id"),
        ({"parent_id": "p", "orphans_only": True}, "parent_id"),
        ({"assignee_id": "u", "unassigned_only": True}, "assignee_id"),
    ],
)
def test_work_item_filter_with_contradictions_is_refused(kwargs, field) -> None:
    with pytest.raises(ValidationError) as info:
        WorkItemFilter(**kwargs)
    assert info.value.field == field


def test_update_work_item_returns_changes_and_persists(items, project, user, bob) -> None:
    item = items.create(project_id=project.id, type=TASK, title="old", created_by=user.id)

    updated = items.update(
        item.id, 1, WorkItemPatch(title="new", status=WorkItemStatus.TODO, assignee_id=bob.id)
    )

    assert updated.entity.version == 2
    assert {(c.field, c.old, c.new) for c in updated.changes} == {
        ("title", "old", "new"),
        ("status", "backlog", "todo"),
        ("assignee_id", None, bob.id),
    }
    assert items.get(item.id) == updated.entity


def test_update_work_item_with_stale_version_conflicts(items, project, user) -> None:
    item = items.create(project_id=project.id, type=TASK, title="old", created_by=user.id)
    current = items.update(item.id, 1, WorkItemPatch(title="newer")).entity

    with pytest.raises(ConflictError) as info:
        items.update(item.id, 1, WorkItemPatch(title="lost"))
    assert info.value.current_version == 2
    assert info.value.current == current
    assert items.get(item.id).title == "newer"


def test_reparent_work_item_checks_hierarchy(items, project, user, board) -> None:
    t2 = board["T2"]
    moved = items.update(t2.id, t2.version, WorkItemPatch(parent_id=board["S2"].id)).entity
    assert titles(items.list(project.id, WorkItemFilter(parent_id=board["S2"].id))) == ["T2"]

    with pytest.raises(HierarchyError) as info:
        items.update(t2.id, moved.version, WorkItemPatch(parent_id=board["E1"].id))
    assert info.value.rule == "hierarchy.parent_type"
    with pytest.raises(HierarchyError) as info:
        items.update(t2.id, moved.version, WorkItemPatch(parent_id=t2.id))
    assert info.value.rule == "hierarchy.cycle"
    with pytest.raises(NotFoundError):
        items.update(t2.id, moved.version, WorkItemPatch(parent_id="nope"))
    assert (
        items.update(t2.id, moved.version, WorkItemPatch(parent_id=None)).entity.parent_id is None
    )


def test_change_type_checks_parent_and_children(items, board) -> None:
    s1 = board["S1"]

    with pytest.raises(HierarchyError) as info:
        items.update(s1.id, s1.version, WorkItemPatch(type=EPIC, parent_id=None))
    assert info.value.rule == "hierarchy.child_type"
    with pytest.raises(HierarchyError) as info:
        items.update(s1.id, s1.version, WorkItemPatch(type=TASK))
    assert info.value.rule == "hierarchy.parent_type"
    t3 = board["T3"]
    assert items.update(t3.id, t3.version, WorkItemPatch(type=EPIC)).entity.type == EPIC


def test_move_work_item_to_closed_sprint_is_refused(conn, now, items, project, user) -> None:
    item = items.create(project_id=project.id, type=TASK, title="t", created_by=user.id)
    closed = make_sprint(conn, now, project.id, SprintStatus.COMPLETED)
    planned = make_sprint(conn, now, project.id, SprintStatus.PLANNED)

    with pytest.raises(RuleViolationError) as info:
        items.update(item.id, 1, WorkItemPatch(sprint_id=closed))
    assert info.value.rule == "work_item.sprint_closed"
    assert items.update(item.id, 1, WorkItemPatch(sprint_id=planned)).entity.sprint_id == planned


def test_soft_delete_with_live_children_is_blocked(items, board) -> None:
    s1 = board["S1"]

    with pytest.raises(DeleteBlockedError) as info:
        items.soft_delete(s1.id, s1.version)
    assert set(info.value.blockers) == {board["T1"].id, board["T2"].id}
    assert items.get(s1.id) == s1


def test_soft_delete_work_item_keeps_row_and_cascades(conn, now, items, project, user, board):
    t2, t3 = board["T2"], board["T3"]
    comment = CommentRepository(conn, now).create(item=t2, author_id=user.id, body="x")
    entry, _ = TimeEntryRepository(conn, now).start(item=t2, user_id=user.id)
    dependency = DependencyRepository(conn, now).create(
        from_item=t3, to_item=t2, type=DependencyType.BLOCKS, created_by=user.id
    )
    later = now + timedelta(minutes=5)

    deleted = WorkItemRepository(conn, later).soft_delete(t2.id, t2.version)
    cascaded = Cascades(conn, later).delete_item_rows(t2.id)

    assert (deleted.deleted_at, deleted.version) == (later, t2.version + 1)
    assert items.find(t2.id) is None
    assert "T2" not in titles(items.list(project.id))
    for table, row_id in (
        ("work_items", t2.id),
        ("comments", comment.id),
        ("time_entries", entry.id),
        ("dependencies", dependency.id),
    ):
        row = conn.execute(f"SELECT deleted_at FROM {table} WHERE id = ?", (row_id,)).fetchone()
        assert row["deleted_at"] == db_time(later), table
    assert sorted((str(kind), row.id, row.version) for kind, row in cascaded) == sorted(
        [
            ("comment", comment.id, comment.version + 1),
            ("time_entry", entry.id, entry.version + 1),
            ("dependency", dependency.id, dependency.version + 1),
        ]
    )


def test_soft_delete_work_item_with_stale_version_conflicts(items, project, user) -> None:
    item = items.create(project_id=project.id, type=TASK, title="t", created_by=user.id)
    items.update(item.id, 1, WorkItemPatch(title="u"))

    with pytest.raises(ConflictError) as info:
        items.soft_delete(item.id, 1)
    assert info.value.current_version == 2
    assert items.find(item.id) is not None


def test_work_item_with_unknown_project_is_refused_by_database(conn, now, user) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO work_items (id, project_id, item_number, type, title, created_by,"
            " created_at, updated_at) VALUES (?, 'nope', 1, 'task', 't', ?, ?, ?)",
            (new_id(), user.id, db_time(now), db_time(now)),
        )


def test_duplicate_item_number_is_refused_by_database(conn, now, items, project, user) -> None:
    items.create(project_id=project.id, type=TASK, title="t", created_by=user.id)

    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO work_items (id, project_id, item_number, type, title, created_by,"
            " created_at, updated_at) VALUES (?, ?, 1, 'task', 't', ?, ?, ?)",
            (new_id(), project.id, user.id, db_time(now), db_time(now)),
        )


single_line = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=80
)
multi_line = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\r\t"), max_size=300
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=50)
@given(
    title=st.one_of(single_line, st.sampled_from(["😀" * TITLE_MAX, "界" * TITLE_MAX, "x"])),
    description=st.one_of(multi_line, st.just(("😀界\n" * DESCRIPTION_MAX)[:DESCRIPTION_MAX])),
    type_=st.sampled_from(WorkItemType),
    status=st.sampled_from(WorkItemStatus),
    priority=st.sampled_from(Priority),
    story_points=st.one_of(st.none(), st.integers(0, 1000)),
    position=finite,
)
def test_work_item_round_trip(
    items, project, user, title, description, type_, status, priority, story_points, position
) -> None:
    created = items.create(
        project_id=project.id,
        type=type_,
        title=title,
        created_by=user.id,
        description=description,
        status=status,
        priority=priority,
        story_points=story_points,
        position=position,
    )

    assert items.get(created.id) == created
    assert (created.title, created.description) == (title, description)
