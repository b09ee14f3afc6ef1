"""Projects: the aggregate every other board row belongs to."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, ProjectStatus, Role
from pm_core.errors import DuplicateError, NotFoundError
from pm_core.models import Project, ProjectPatch
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.PROJECT
UPDATABLE: Final = ProjectPatch.field_names()

_COLUMNS: Final = (
    "id, key, name, description, status, created_by, version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO projects (id, key, name, description, status, created_by, version,
                      created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM projects WHERE id = ? AND deleted_at IS NULL"
IS_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
SELECT_BY_KEY: Final = f"SELECT {_COLUMNS} FROM projects WHERE key = ? AND deleted_at IS NULL"
SELECT_ALL: Final = f"SELECT {_COLUMNS} FROM projects WHERE deleted_at IS NULL ORDER BY key"
SELECT_ACTIVE: Final = (
    f"SELECT {_COLUMNS} FROM projects WHERE deleted_at IS NULL AND status = 'active' ORDER BY key"
)
SELECT_FOR_USER: Final = f"""
SELECT {", ".join("p." + c.strip() for c in _COLUMNS.split(","))}
FROM projects AS p
JOIN project_members AS m ON m.project_id = p.id AND m.deleted_at IS NULL
WHERE m.user_id = ? AND p.deleted_at IS NULL
ORDER BY p.key
"""
SELECT_AS_MEMBER: Final = f"""
SELECT {", ".join("p." + c.strip() for c in _COLUMNS.split(","))}, m.role AS member_role
FROM projects AS p
JOIN project_members AS m ON m.project_id = p.id AND m.deleted_at IS NULL
WHERE p.id = ? AND m.user_id = ? AND p.deleted_at IS NULL
"""
UPDATE: Final = """
UPDATE projects SET name = ?, description = ?, status = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE projects SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
USER_IS_LIVE: Final = "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL"
ALLOCATE_NUMBER: Final = """
UPDATE projects SET next_item_number = next_item_number + 1
WHERE id = ? AND deleted_at IS NULL
RETURNING next_item_number - 1
"""


class ProjectRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(self, *, key: str, name: str, created_by: str, description: str = "") -> Project:
        now = self._now
        project = build(
            Project,
            {
                "id": new_id(),
                "key": key,
                "name": name,
                "description": description,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
            },
        )
        if self._conn.execute(USER_IS_LIVE, (project.created_by,)).fetchone() is None:
            raise NotFoundError("user", project.created_by)
        try:
            self._conn.execute(
                INSERT,
                (
                    project.id,
                    project.key,
                    project.name,
                    project.description,
                    project.status,
                    project.created_by,
                    db_time(now),
                    db_time(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "projects.key"):
                raise DuplicateError(ENTITY, "key") from exc
            raise
        return project

    def find(self, project_id: str) -> Project | None:
        row = self._conn.execute(SELECT_LIVE, (project_id,)).fetchone()
        return None if row is None else _from_row(row)

    def get(self, project_id: str) -> Project:
        project = self.find(project_id)
        if project is None:
            raise NotFoundError(ENTITY, project_id)
        return project

    def check_live(self, project_id: str) -> None:
        """Raise NotFoundError unless the project exists and is not deleted."""
        if self._conn.execute(IS_LIVE, (project_id,)).fetchone() is None:
            raise NotFoundError(ENTITY, project_id)

    def get_by_key(self, key: str) -> Project:
        row = self._conn.execute(SELECT_BY_KEY, (key.upper(),)).fetchone()
        if row is None:
            raise NotFoundError(ENTITY, key)
        return _from_row(row)

    def find_as_member(self, project_id: str, user_id: str) -> tuple[Project, Role] | None:
        """The live project and ``user_id``'s role in it; None unless both are live
        (one query: every command checks it)."""
        row = self._conn.execute(SELECT_AS_MEMBER, (project_id, user_id)).fetchone()
        return None if row is None else (_from_row(row), Role(row["member_role"]))

    def list_for_user(self, user_id: str) -> list[Project]:
        """Live projects where ``user_id`` is a live member."""
        return [_from_row(row) for row in self._conn.execute(SELECT_FOR_USER, (user_id,))]

    def list(self, *, include_archived: bool = True) -> list[Project]:
        sql = SELECT_ALL if include_archived else SELECT_ACTIVE
        return [_from_row(row) for row in self._conn.execute(sql)]

    def update(
        self, project_id: str, expected_version: int | None, patch: ProjectPatch
    ) -> Updated[Project]:
        current = self.get(project_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, patch.changes(), UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        cursor = self._conn.execute(
            UPDATE,
            (
                new.name,
                new.description,
                new.status,
                new.version,
                db_time(self._now),
                project_id,
                current.version,
            ),
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, project_id: str, expected_version: int | None) -> Project:
        """Mark the project deleted (``uow.cascades`` deletes the rows in it)."""
        current = self.get(project_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, project_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def allocate_item_number(self, project_id: str) -> int:
        """The next item number of the project, allocated inside this transaction."""
        row = self._conn.execute(ALLOCATE_NUMBER, (project_id,)).fetchone()
        if row is None:
            raise NotFoundError(ENTITY, project_id)
        return int(row[0])


def _from_row(row: sqlite3.Row) -> Project:
    # Rows were validated on the way in: construct without validating again.
    return Project.model_construct(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        status=ProjectStatus(row["status"]),
        created_by=row["created_by"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
