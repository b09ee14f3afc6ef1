"""ProjectRepository: keys, reads, updates, item numbers and the delete cascade."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import ProjectStatus, Role, WorkItemStatus
from pm_core.errors import ConflictError, DuplicateError, NotFoundError, ValidationError
from pm_core.keys import PROJECT_KEY_PATTERN
from pm_core.models import FieldChange, Project, ProjectPatch, User
from pm_core.text import DESCRIPTION_MAX, NAME_MAX
from pm_db.codec import db_time, new_id
from pm_db.unit_of_work import UnitOfWork
from tests.pm_db.conftest import soft_delete_user

SINGLE_LINE = st.characters(exclude_categories=("Cc", "Cs"))
MULTI_LINE = st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\r\t")
KEYS = st.one_of(
    st.from_regex(rf"\A{PROJECT_KEY_PATTERN}\Z"), st.sampled_from(["AB", "Z" * 10, "X123456789"])
)
NAMES = st.one_of(
    st.text(SINGLE_LINE, min_size=1, max_size=NAME_MAX).filter(str.strip),
    st.sampled_from(["📋" * NAME_MAX, "项目管理" * (NAME_MAX // 4), "P"]),
)
DESCRIPTIONS = st.one_of(
    st.text(MULTI_LINE, max_size=300),
    st.sampled_from(["", "説" * DESCRIPTION_MAX, "first line\nsecond\tline 🚀"]),
)
# Tables whose rows belong to a project, as the soft-delete cascade names them.
BOARD_TABLES = ("project_members", "sprints", "work_items", "swim_lanes")


def insert_item(conn: sqlite3.Connection, project_id: str, number: int, created_by: str) -> str:
    """A work item row written directly (this file tests projects, not items)."""
    item_id = new_id()
    stamp = db_time(datetime(2026, 1, 1, tzinfo=UTC))
    conn.execute(
        "INSERT INTO work_items (id, project_id, item_number, type, title, created_by, "
        "created_at, updated_at) VALUES (?, ?, ?, 'task', 'an item', ?, ?, ?)",
        (item_id, project_id, number, created_by, stamp, stamp),
    )
    return item_id


def fill_board(uow: UnitOfWork, project: Project, user: User) -> dict[str, str]:
    """One live row of each kind in ``project``; returns their ids by table."""
    member = uow.members.add(project_id=project.id, user_id=user.id, role=Role.ADMIN)
    sprint = uow.sprints.create(project_id=project.id, name="S1")
    lane = uow.swim_lanes.create(project_id=project.id, name="Todo", status=WorkItemStatus.TODO)
    item_id = insert_item(uow.conn, project.id, 1, user.id)
    return {
        "project_members": member.id,
        "sprints": sprint.id,
        "work_items": item_id,
        "swim_lanes": lane.id,
    }


def test_create_project_reads_back_by_id_and_key(
    uow: UnitOfWork, user: User, now: datetime
) -> None:
    project = uow.projects.create(
        key="WEB", name=" Website ", created_by=user.id, description="public site"
    )

    assert (project.name, project.status, project.version, project.created_at) == (
        "Website",
        ProjectStatus.ACTIVE,
        1,
        now,
    )
    assert uow.projects.get(project.id) == project
    assert uow.projects.find(project.id) == project
    assert uow.projects.get_by_key("web") == project
    assert uow.projects.list() == [project]


@pytest.mark.parametrize("key", ["A", "web", "1AB", "ABCDEFGHIJK", "AB-1"])
def test_create_project_with_invalid_key_raises_validation_error(
    uow: UnitOfWork, user: User, key: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        uow.projects.create(key=key, name="Website", created_by=user.id)

    assert excinfo.value.field == "key"
    assert uow.projects.list() == []


def test_create_project_with_a_live_key_raises_duplicate(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    with pytest.raises(DuplicateError) as excinfo:
        uow.projects.create(key=project.key, name="Another", created_by=user.id)

    assert excinfo.value.key == "key"
    assert uow.projects.list() == [project]


def test_project_key_is_free_again_after_delete(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    uow.projects.soft_delete(project.id, 1)

    again = uow.projects.create(key=project.key, name="Second life", created_by=user.id)

    assert again.id != project.id
    assert uow.projects.get_by_key(project.key) == again


@pytest.mark.parametrize("deleted", [False, True])
def test_create_project_by_unknown_or_deleted_user_raises_not_found(
    uow: UnitOfWork, user: User, deleted: bool
) -> None:
    creator = user.id if deleted else "u-nobody"
    if deleted:
        soft_delete_user(uow, user.id)

    with pytest.raises(NotFoundError) as excinfo:
        uow.projects.create(key="WEB", name="Website", created_by=creator)

    assert (excinfo.value.entity, excinfo.value.entity_id) == ("user", creator)
    assert uow.projects.list() == []


def test_list_excludes_archived_only_when_asked(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    ops = uow.projects.create(key="OPS", name="Operations", created_by=user.id)

    archived = uow.projects.update(ops.id, 1, ProjectPatch(status=ProjectStatus.ARCHIVED)).entity

    assert archived.status is ProjectStatus.ARCHIVED
    assert uow.projects.list() == [archived, project]
    assert uow.projects.list(include_archived=False) == [project]


def test_list_for_user_returns_projects_where_the_user_is_a_live_member(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    bob = uow.users.upsert(user_id="u-bob", display_name="Bob")
    ops = uow.projects.create(key="OPS", name="Operations", created_by=user.id)
    uow.members.add(project_id=project.id, user_id=user.id, role=Role.ADMIN)
    uow.members.add(project_id=ops.id, user_id=user.id, role=Role.ADMIN)
    uow.members.add(project_id=ops.id, user_id=bob.id, role=Role.VIEWER)
    uow.members.remove(ops.id, bob.id, 1)

    assert uow.projects.list_for_user(user.id) == [ops, project]
    assert uow.projects.list_for_user(bob.id) == []


def test_find_as_member_gives_the_project_and_role_of_live_members_only(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    bob = uow.users.upsert(user_id="u-bob", display_name="Bob")
    carol = uow.users.upsert(user_id="u-carol", display_name="Carol")
    uow.members.add(project_id=project.id, user_id=user.id, role=Role.ADMIN)
    uow.members.add(project_id=project.id, user_id=bob.id, role=Role.VIEWER)
    uow.members.add(project_id=project.id, user_id=carol.id, role=Role.EDITOR)
    uow.members.remove(project.id, carol.id, 1)

    assert uow.projects.find_as_member(project.id, user.id) == (project, Role.ADMIN)
    assert uow.projects.find_as_member(project.id, bob.id) == (project, Role.VIEWER)
    assert uow.projects.find_as_member(project.id, carol.id) is None  # removed
    assert uow.projects.find_as_member(project.id, "u-nobody") is None
    assert uow.projects.find_as_member("no-such-project", user.id) is None
    uow.projects.soft_delete(project.id, 1)
    assert uow.projects.find_as_member(project.id, user.id) is None  # project deleted


def test_update_project_changes_fields_and_reports_them(uow: UnitOfWork, project: Project) -> None:
    updated = uow.projects.update(project.id, 1, ProjectPatch(name="PM tool", description="notes"))

    assert updated.entity.version == 2
    assert updated.changes == [
        FieldChange(field="name", old="Project Management", new="PM tool"),
        FieldChange(field="description", old="", new="notes"),
    ]
    assert uow.projects.get(project.id) == updated.entity


def test_update_project_with_stale_version_conflicts_carrying_current(
    uow: UnitOfWork, project: Project
) -> None:
    current = uow.projects.update(project.id, 1, ProjectPatch(description="first")).entity

    with pytest.raises(ConflictError) as excinfo:
        uow.projects.update(project.id, 1, ProjectPatch(description="second"))

    assert (excinfo.value.current_version, excinfo.value.current) == (2, current)
    assert uow.projects.get(project.id).description == "first"


def test_soft_delete_project_with_stale_version_conflicts(
    uow: UnitOfWork, project: Project
) -> None:
    with pytest.raises(ConflictError) as excinfo:
        uow.projects.soft_delete(project.id, 3)

    assert (excinfo.value.current_version, excinfo.value.current) == (1, project)
    assert uow.projects.get(project.id) == project


def test_deleted_project_is_gone_from_reads_but_the_row_stays(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, project: Project
) -> None:
    deleted = uow.projects.soft_delete(project.id, None)

    assert (deleted.deleted_at, deleted.version) == (now, 2)
    assert uow.projects.find(project.id) is None
    assert uow.projects.list() == []
    with pytest.raises(NotFoundError):
        uow.projects.get(project.id)
    with pytest.raises(NotFoundError):
        uow.projects.get_by_key(project.key)
    row = conn.execute("SELECT deleted_at FROM projects WHERE id = ?", (project.id,)).fetchone()
    assert row["deleted_at"] == db_time(now)


def test_deleting_a_project_soft_deletes_everything_in_it(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, project: Project, user: User
) -> None:
    ids = fill_board(uow, project, user)
    other = uow.projects.create(key="OPS", name="Operations", created_by=user.id)
    other_ids = fill_board(uow, other, user)

    uow.projects.soft_delete(project.id, 1)
    cascaded = uow.cascades.delete_project_rows(project.id)

    assert {entity.id for _, entity in cascaded} == set(ids.values())
    assert all(entity.deleted_at == now for _, entity in cascaded)
    assert uow.members.list(project.id) == []
    assert uow.members.find(project.id, user.id) is None
    assert uow.sprints.list(project.id) == []
    assert uow.swim_lanes.list(project.id) == []
    assert uow.work_items.find(ids["work_items"]) is None
    assert uow.work_items.list(project.id) == []
    assert uow.projects.list_for_user(user.id) == [other]
    assert uow.work_items.find(other_ids["work_items"]) is not None
    for table, row_id in ids.items():
        row = conn.execute(f"SELECT deleted_at FROM {table} WHERE id = ?", (row_id,)).fetchone()
        assert row["deleted_at"] == db_time(now), table
    for table, row_id in other_ids.items():
        row = conn.execute(f"SELECT deleted_at FROM {table} WHERE id = ?", (row_id,)).fetchone()
        assert row["deleted_at"] is None, table


def test_hard_deleting_a_project_row_cascades_to_its_rows(
    uow: UnitOfWork, conn: sqlite3.Connection, project: Project, user: User
) -> None:
    ids = fill_board(uow, project, user)

    conn.execute("DELETE FROM projects WHERE id = ?", (project.id,))

    for table, row_id in ids.items():
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE id = ?", (row_id,)).fetchone()
        assert row[0] == 0, table


def test_raw_project_insert_with_unknown_creator_violates_foreign_key(
    conn: sqlite3.Connection, now: datetime
) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO projects (id, key, name, created_by, created_at, updated_at) "
            "VALUES (?, 'WEB', 'Website', 'u-nobody', ?, ?)",
            (new_id(), db_time(now), db_time(now)),
        )


def test_allocate_item_number_counts_per_project(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    ops = uow.projects.create(key="OPS", name="Operations", created_by=user.id)

    first = [uow.projects.allocate_item_number(project.id) for _ in range(3)]
    other = [uow.projects.allocate_item_number(ops.id) for _ in range(2)]
    later = uow.projects.allocate_item_number(project.id)

    assert (first, other, later) == ([1, 2, 3], [1, 2], 4)


@pytest.mark.parametrize("deleted", [False, True])
def test_allocate_item_number_of_missing_project_raises_not_found(
    uow: UnitOfWork, project: Project, deleted: bool
) -> None:
    project_id = project.id if deleted else "p-missing"
    if deleted:
        uow.projects.soft_delete(project.id, 1)

    with pytest.raises(NotFoundError):
        uow.projects.allocate_item_number(project_id)


@settings(max_examples=50)
@given(key=KEYS, name=NAMES, description=DESCRIPTIONS)
def test_created_project_reads_back_equal(
    uow: UnitOfWork, user: User, key: str, name: str, description: str
) -> None:
    project = uow.projects.create(key=key, name=name, created_by=user.id, description=description)

    assert uow.projects.get(project.id) == project
    assert uow.projects.get_by_key(key) == project
    # Leave the key free for the next example.
    uow.projects.soft_delete(project.id, 1)
