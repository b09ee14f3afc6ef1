"""Project members: who belongs to a project, and with which role.

A user has at most one live membership per project (the partial unique index
``project_members_live``); removing a member soft-deletes the row, so the
same user can be added again later as a new membership.

Rule ``member.last_admin``: a project never loses its last live admin. Demoting
or removing that admin raises :class:`RuleViolationError` (field ``role``) in
both cases, rather than DELETE_BLOCKED for a removal, so a client handles one
error for one rule.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, Role
from pm_core.errors import DuplicateError, NotFoundError, RuleViolationError
from pm_core.models import ProjectMember
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.MEMBER
UPDATABLE: Final = frozenset({"role"})
LAST_ADMIN_RULE: Final = "member.last_admin"

_COLUMNS: Final = "id, project_id, user_id, role, version, created_at, updated_at, deleted_at"
INSERT: Final = """
INSERT INTO project_members (id, project_id, user_id, role, version, created_at, updated_at)
VALUES (?, ?, ?, ?, 1, ?, ?)
"""
PROJECT_IS_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
USER_IS_LIVE: Final = "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL"
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM project_members WHERE id = ? AND deleted_at IS NULL"
SELECT_BY_USER: Final = f"""
SELECT {_COLUMNS} FROM project_members
WHERE project_id = ? AND user_id = ? AND deleted_at IS NULL
"""
SELECT_BY_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM project_members
WHERE project_id = ? AND deleted_at IS NULL
ORDER BY created_at, id
"""
COUNT_ADMINS: Final = """
SELECT count(*) FROM project_members
WHERE project_id = ? AND role = 'admin' AND deleted_at IS NULL
"""
UPDATE: Final = """
UPDATE project_members SET role = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE project_members SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class MemberRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def add(self, *, project_id: str, user_id: str, role: Role) -> ProjectMember:
        """A new live membership; the project and the user must both be live."""
        now = self._now
        member = build(
            ProjectMember,
            {
                "id": new_id(),
                "project_id": project_id,
                "user_id": user_id,
                "role": role,
                "created_at": now,
                "updated_at": now,
            },
        )
        if self._conn.execute(PROJECT_IS_LIVE, (project_id,)).fetchone() is None:
            raise NotFoundError("project", project_id)
        if self._conn.execute(USER_IS_LIVE, (user_id,)).fetchone() is None:
            raise NotFoundError("user", user_id)
        try:
            self._conn.execute(
                INSERT,
                (member.id, project_id, user_id, member.role, db_time(now), db_time(now)),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "project_members.project_id, project_members.user_id"):
                existing = self.find(project_id, user_id)
                raise DuplicateError(ENTITY, "user_id", existing.id if existing else None) from exc
            raise
        return member

    def get(self, member_id: str) -> ProjectMember:
        row = self._conn.execute(SELECT_LIVE, (member_id,)).fetchone()
        if row is None:
            raise NotFoundError(ENTITY, member_id)
        return from_row(row)

    def find(self, project_id: str, user_id: str) -> ProjectMember | None:
        row = self._conn.execute(SELECT_BY_USER, (project_id, user_id)).fetchone()
        return None if row is None else from_row(row)

    def list(self, project_id: str) -> list[ProjectMember]:
        """Live members of the project, oldest membership first."""
        return [from_row(row) for row in self._conn.execute(SELECT_BY_PROJECT, (project_id,))]

    def change_role(
        self, project_id: str, user_id: str, expected_version: int | None, role: Role
    ) -> Updated[ProjectMember]:
        """Give the member another role; demoting the last admin is refused."""
        current = self._get_by_user(project_id, user_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, {"role": role}, UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        if new.role != Role.ADMIN:
            self._check_not_last_admin(current)
        cursor = self._conn.execute(
            UPDATE, (new.role, new.version, db_time(self._now), current.id, current.version)
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def remove(self, project_id: str, user_id: str, expected_version: int | None) -> ProjectMember:
        """Soft-delete the membership; removing the last admin is refused."""
        current = self._get_by_user(project_id, user_id)
        check_version(ENTITY, current, expected_version)
        self._check_not_last_admin(current)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, current.id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _get_by_user(self, project_id: str, user_id: str) -> ProjectMember:
        member = self.find(project_id, user_id)
        if member is None:
            raise NotFoundError(ENTITY, user_id)
        return member

    def _check_not_last_admin(self, member: ProjectMember) -> None:
        """``member`` is about to stop being an admin: someone else must still be one."""
        if member.role != Role.ADMIN:
            return
        (admins,) = self._conn.execute(COUNT_ADMINS, (member.project_id,)).fetchone()
        if admins <= 1:
            raise RuleViolationError(
                LAST_ADMIN_RULE, "role", "a project must keep at least one admin"
            )


def from_row(row: sqlite3.Row) -> ProjectMember:
    # Rows were validated on the way in: construct without validating again (every command).
    return ProjectMember.model_construct(
        id=row["id"],
        project_id=row["project_id"],
        user_id=row["user_id"],
        role=Role(row["role"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
