"""MemberRepository: memberships, roles, the last-admin rule and soft delete."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pm_core.enums import Role
from pm_core.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from pm_core.models import FieldChange, Project, ProjectMember, User
from pm_db.codec import db_time, new_id
from pm_db.unit_of_work import UnitOfWork
from tests.pm_db.conftest import soft_delete_user


@pytest.fixture
def bob(uow: UnitOfWork) -> User:
    return uow.users.upsert(user_id="u-bob", display_name="Bob")


@pytest.fixture
def admin(uow: UnitOfWork, project: Project, user: User) -> ProjectMember:
    return uow.members.add(project_id=project.id, user_id=user.id, role=Role.ADMIN)


def deleted_at_of(conn: sqlite3.Connection, member_id: str) -> str | None:
    row = conn.execute("SELECT deleted_at FROM project_members WHERE id = ?", (member_id,))
    (value,) = row.fetchone()
    return None if value is None else str(value)


def test_add_member_reads_back_through_every_read(
    uow: UnitOfWork, project: Project, user: User, now: datetime
) -> None:
    member = uow.members.add(project_id=project.id, user_id=user.id, role=Role.EDITOR)

    assert (member.project_id, member.user_id, member.role, member.version) == (
        project.id,
        user.id,
        Role.EDITOR,
        1,
    )
    assert member.created_at == now
    assert uow.members.get(member.id) == member
    assert uow.members.find(project.id, user.id) == member
    assert uow.members.list(project.id) == [member]


def test_add_member_accepts_role_as_text(uow: UnitOfWork, project: Project, user: User) -> None:
    member = uow.members.add(project_id=project.id, user_id=user.id, role="viewer")  # type: ignore[arg-type]

    assert member.role is Role.VIEWER


def test_add_member_with_unknown_role_raises_validation_error(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        uow.members.add(project_id=project.id, user_id=user.id, role="owner")  # type: ignore[arg-type]

    assert excinfo.value.field == "role"
    assert uow.members.list(project.id) == []


def test_add_member_to_unknown_project_raises_not_found(uow: UnitOfWork, user: User) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        uow.members.add(project_id="p-missing", user_id=user.id, role=Role.ADMIN)

    assert excinfo.value.entity == "project"


def test_add_member_to_deleted_project_raises_not_found(
    uow: UnitOfWork, project: Project, user: User
) -> None:
    uow.projects.soft_delete(project.id, expected_version=None)

    with pytest.raises(NotFoundError) as excinfo:
        uow.members.add(project_id=project.id, user_id=user.id, role=Role.ADMIN)

    assert excinfo.value.entity == "project"


@pytest.mark.parametrize("deleted", [False, True])
def test_add_unknown_or_deleted_user_raises_not_found(
    uow: UnitOfWork, project: Project, bob: User, deleted: bool
) -> None:
    user_id = bob.id if deleted else "u-nobody"
    if deleted:
        soft_delete_user(uow, bob.id)

    with pytest.raises(NotFoundError) as excinfo:
        uow.members.add(project_id=project.id, user_id=user_id, role=Role.EDITOR)

    assert (excinfo.value.entity, excinfo.value.entity_id) == ("user", user_id)


def test_add_member_twice_raises_duplicate_naming_the_existing_membership(
    uow: UnitOfWork, project: Project, admin: ProjectMember
) -> None:
    with pytest.raises(DuplicateError) as excinfo:
        uow.members.add(project_id=project.id, user_id=admin.user_id, role=Role.VIEWER)

    assert excinfo.value.entity_id == admin.id
    assert uow.members.list(project.id) == [admin]


def test_re_adding_a_removed_member_creates_a_new_membership(
    uow: UnitOfWork, conn: sqlite3.Connection, project: Project, admin: ProjectMember, bob: User
) -> None:
    first = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.EDITOR)
    uow.members.remove(project.id, bob.id, expected_version=1)

    again = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.VIEWER)

    assert again.id != first.id
    assert again.role is Role.VIEWER
    assert uow.members.find(project.id, bob.id) == again
    assert deleted_at_of(conn, first.id) is not None


def test_change_role_returns_the_new_member_and_the_change(
    uow: UnitOfWork, project: Project, admin: ProjectMember, bob: User
) -> None:
    member = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.VIEWER)

    updated = uow.members.change_role(project.id, bob.id, expected_version=1, role=Role.EDITOR)

    assert updated.entity.role is Role.EDITOR
    assert updated.entity.version == 2
    assert updated.changes == [FieldChange(field="role", old="viewer", new="editor")]
    assert uow.members.get(member.id) == updated.entity


def test_change_role_with_stale_version_conflicts_carrying_current(
    uow: UnitOfWork, project: Project, admin: ProjectMember, bob: User
) -> None:
    member = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.VIEWER)
    uow.members.change_role(project.id, bob.id, expected_version=1, role=Role.EDITOR)
    current = uow.members.get(member.id)

    with pytest.raises(ConflictError) as excinfo:
        uow.members.change_role(project.id, bob.id, expected_version=1, role=Role.ADMIN)

    assert excinfo.value.current_version == 2
    assert excinfo.value.current == current
    assert uow.members.get(member.id) == current


def test_change_role_of_non_member_raises_not_found(
    uow: UnitOfWork, project: Project, bob: User
) -> None:
    with pytest.raises(NotFoundError):
        uow.members.change_role(project.id, bob.id, expected_version=None, role=Role.ADMIN)


def test_demoting_the_last_admin_is_refused(
    uow: UnitOfWork, project: Project, admin: ProjectMember
) -> None:
    with pytest.raises(RuleViolationError) as excinfo:
        uow.members.change_role(project.id, admin.user_id, expected_version=1, role=Role.EDITOR)

    assert (excinfo.value.rule, excinfo.value.field) == ("member.last_admin", "role")
    assert uow.members.get(admin.id) == admin


def test_removing_the_last_admin_is_refused(
    uow: UnitOfWork, project: Project, admin: ProjectMember
) -> None:
    with pytest.raises(RuleViolationError) as excinfo:
        uow.members.remove(project.id, admin.user_id, expected_version=1)

    assert excinfo.value.rule == "member.last_admin"
    assert uow.members.list(project.id) == [admin]


def test_an_admin_can_step_down_while_another_admin_remains(
    uow: UnitOfWork, project: Project, admin: ProjectMember, bob: User
) -> None:
    uow.members.add(project_id=project.id, user_id=bob.id, role=Role.ADMIN)

    demoted = uow.members.change_role(
        project.id, admin.user_id, expected_version=1, role=Role.VIEWER
    )

    assert demoted.entity.role is Role.VIEWER
    with pytest.raises(RuleViolationError):
        uow.members.remove(project.id, bob.id, expected_version=1)


def test_re_granting_admin_to_the_last_admin_is_allowed(
    uow: UnitOfWork, project: Project, admin: ProjectMember
) -> None:
    updated = uow.members.change_role(
        project.id, admin.user_id, expected_version=1, role=Role.ADMIN
    )

    assert updated.entity.role is Role.ADMIN
    assert updated.changes == []


def test_removing_a_non_admin_works_without_any_admin(
    uow: UnitOfWork, project: Project, bob: User
) -> None:
    uow.members.add(project_id=project.id, user_id=bob.id, role=Role.EDITOR)

    removed = uow.members.remove(project.id, bob.id, expected_version=1)

    assert removed.deleted_at is not None
    assert uow.members.list(project.id) == []


def test_remove_with_stale_version_conflicts_carrying_current(
    uow: UnitOfWork, project: Project, admin: ProjectMember, bob: User
) -> None:
    member = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.EDITOR)

    with pytest.raises(ConflictError) as excinfo:
        uow.members.remove(project.id, bob.id, expected_version=5)

    assert (excinfo.value.current_version, excinfo.value.current) == (1, member)
    assert uow.members.find(project.id, bob.id) == member


def test_removed_member_is_gone_from_reads_but_the_row_stays(
    uow: UnitOfWork,
    conn: sqlite3.Connection,
    now: datetime,
    project: Project,
    admin: ProjectMember,
    bob: User,
) -> None:
    member = uow.members.add(project_id=project.id, user_id=bob.id, role=Role.EDITOR)

    removed = uow.members.remove(project.id, bob.id, expected_version=None)

    assert (removed.deleted_at, removed.version) == (now, 2)
    assert uow.members.find(project.id, bob.id) is None
    assert uow.members.list(project.id) == [admin]
    with pytest.raises(NotFoundError):
        uow.members.get(member.id)
    assert deleted_at_of(conn, member.id) == db_time(now)


def test_list_members_is_per_project(
    uow: UnitOfWork, project: Project, admin: ProjectMember, user: User
) -> None:
    other = uow.projects.create(key="OPS", name="Operations", created_by=user.id)

    assert uow.members.list(other.id) == []
    assert uow.members.find(other.id, user.id) is None
    assert uow.members.list(project.id) == [admin]


@pytest.mark.parametrize("missing", ["project_id", "user_id"])
def test_raw_member_insert_with_unknown_reference_violates_foreign_key(
    conn: sqlite3.Connection, now: datetime, project: Project, user: User, missing: str
) -> None:
    values = {"project_id": project.id, "user_id": user.id, missing: "does-not-exist"}

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO project_members (id, project_id, user_id, role, created_at, updated_at) "
            "VALUES (?, ?, ?, 'viewer', ?, ?)",
            (new_id(), values["project_id"], values["user_id"], db_time(now), db_time(now)),
        )


@settings(max_examples=50)
@given(
    role=st.sampled_from(Role),
    user_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64),
)
def test_added_member_reads_back_equal(
    uow: UnitOfWork, project: Project, admin: ProjectMember, role: Role, user_id: str
) -> None:
    # The fixture admin stays, so any earlier membership of ``user_id`` can be removed.
    assume(user_id != admin.user_id)
    uow.users.upsert(user_id=user_id, display_name="成员 🧑‍💻")
    existing = uow.members.find(project.id, user_id)
    if existing is not None:
        uow.members.remove(project.id, user_id, expected_version=None)

    member = uow.members.add(project_id=project.id, user_id=user_id, role=role)

    assert uow.members.get(member.id) == member
    assert uow.members.find(project.id, user_id) == member
