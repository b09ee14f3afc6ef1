"""Sprints: time boxes of a project, with a small life cycle.

The rules live in :mod:`pm_core.rules.sprints` (transitions, one active sprint
per project, no edits once completed or cancelled, end after start); this
module loads what they need and writes the result. The partial unique index
``sprints_one_active`` backs the one-active rule in the database itself and
its violation surfaces as the same ``sprint.one_active`` error. Names are unique
among a project's live sprints (``sprints_name_live``; CONFLICT naming the
sprint that holds the name), since commands and people name sprints by name.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Final, NoReturn

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, SprintStatus
from pm_core.errors import DeleteBlockedError, DuplicateError, NotFoundError, RuleViolationError
from pm_core.models import Sprint, SprintPatch
from pm_core.rules.sprints import check_dates, check_mutable, check_transition
from pm_core.validation import build, merge
from pm_db.codec import (
    db_time,
    db_time_or_none,
    new_id,
    parse_db_time,
    parse_db_time_or_none,
)
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.SPRINT
UPDATABLE: Final = SprintPatch.field_names()
ONE_ACTIVE_RULE: Final = "sprint.one_active"
_NAME_INDEX: Final = "sprints.project_id, sprints.name"

_COLUMNS: Final = (
    "id, project_id, name, goal, status, starts_at, ends_at, version, "
    "created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO sprints (id, project_id, name, goal, status, starts_at, ends_at, version,
                     created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
PROJECT_IS_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM sprints WHERE id = ? AND deleted_at IS NULL"
# Dated sprints in date order, then undated ones; ties by creation (ids are time-ordered).
SELECT_BY_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM sprints
WHERE project_id = ? AND deleted_at IS NULL
ORDER BY starts_at IS NULL, starts_at, created_at, id
"""
# The statuses arrive as one JSON array, so the SQL stays literal whatever their number.
SELECT_BY_PROJECT_STATUSES: Final = f"""
SELECT {_COLUMNS} FROM sprints
WHERE project_id = ? AND deleted_at IS NULL AND status IN (SELECT value FROM json_each(?))
ORDER BY starts_at IS NULL, starts_at, created_at, id
"""
SELECT_BY_NAME: Final = f"""
SELECT {_COLUMNS} FROM sprints WHERE project_id = ? AND name = ? AND deleted_at IS NULL
"""
SELECT_ACTIVE: Final = f"""
SELECT {_COLUMNS} FROM sprints
WHERE project_id = ? AND status = 'active' AND deleted_at IS NULL
"""
UPDATE: Final = """
UPDATE sprints SET name = ?, goal = ?, status = ?, starts_at = ?, ends_at = ?,
                   version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE sprints SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class SprintRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        project_id: str,
        name: str,
        goal: str = "",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Sprint:
        """A planned sprint in a live project."""
        check_dates(starts_at, ends_at)
        now = self._now
        sprint = build(
            Sprint,
            {
                "id": new_id(),
                "project_id": project_id,
                "name": name,
                "goal": goal,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "created_at": now,
                "updated_at": now,
            },
        )
        if self._conn.execute(PROJECT_IS_LIVE, (project_id,)).fetchone() is None:
            raise NotFoundError("project", project_id)
        try:
            self._conn.execute(
                INSERT,
                (
                    sprint.id,
                    sprint.project_id,
                    sprint.name,
                    sprint.goal,
                    sprint.status,
                    db_time_or_none(sprint.starts_at),
                    db_time_or_none(sprint.ends_at),
                    db_time(now),
                    db_time(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            self._raise_duplicate(exc, sprint)
        return sprint

    def find(self, sprint_id: str) -> Sprint | None:
        row = self._conn.execute(SELECT_LIVE, (sprint_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, sprint_id: str) -> Sprint:
        sprint = self.find(sprint_id)
        if sprint is None:
            raise NotFoundError(ENTITY, sprint_id)
        return sprint

    def list(
        self, project_id: str, statuses: Collection[SprintStatus] | None = None
    ) -> list[Sprint]:
        """Live sprints of the project (only those in ``statuses`` when given).

        Ordered by start date, undated sprints last, then by creation.
        """
        if statuses is None:
            cursor = self._conn.execute(SELECT_BY_PROJECT, (project_id,))
        else:
            wanted = json.dumps([str(status) for status in statuses])
            cursor = self._conn.execute(SELECT_BY_PROJECT_STATUSES, (project_id, wanted))
        return [from_row(row) for row in cursor]

    def active(self, project_id: str) -> Sprint | None:
        """The project's active sprint, if one is running."""
        row = self._conn.execute(SELECT_ACTIVE, (project_id,)).fetchone()
        return None if row is None else from_row(row)

    def update(
        self, sprint_id: str, expected_version: int | None, patch: SprintPatch
    ) -> Updated[Sprint]:
        """Change name, goal or dates of a sprint that is still planned or active."""
        current = self.get(sprint_id)
        check_version(ENTITY, current, expected_version)
        check_mutable(current)
        new = merge(
            current, patch.changes(), UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        check_dates(new.starts_at, new.ends_at)
        return self._write(current, new)

    def transition(
        self, sprint_id: str, expected_version: int | None, target: SprintStatus
    ) -> Updated[Sprint]:
        """Move the sprint along its life cycle (start, complete, cancel)."""
        current = self.get(sprint_id)
        check_version(ENTITY, current, expected_version)
        active = self.active(current.project_id)
        check_transition(current, target, active_sprint_id=None if active is None else active.id)
        new = merge(
            current,
            {"status": target},
            {"status"},
            version=current.version + 1,
            updated_at=self._now,
        )
        return self._write(current, new)

    def _raise_duplicate(self, exc: sqlite3.IntegrityError, sprint: Sprint) -> NoReturn:
        """Translate a clash on the live-name index; re-raise anything else."""
        if not is_unique_violation(exc, _NAME_INDEX):
            raise exc
        row = self._conn.execute(SELECT_BY_NAME, (sprint.project_id, sprint.name)).fetchone()
        raise DuplicateError(ENTITY, "name", None if row is None else row["id"]) from exc

    def soft_delete(self, sprint_id: str, expected_version: int | None) -> Sprint:
        """Delete a sprint that is not running (``uow.cascades`` moves its items to the
        backlog)."""
        current = self.get(sprint_id)
        check_version(ENTITY, current, expected_version)
        if current.status == SprintStatus.ACTIVE:
            raise DeleteBlockedError(
                ENTITY, sprint_id, "the sprint is active; complete or cancel it first", ()
            )
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, sprint_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _write(self, current: Sprint, new: Sprint) -> Updated[Sprint]:
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        try:
            cursor = self._conn.execute(
                UPDATE,
                (
                    new.name,
                    new.goal,
                    new.status,
                    db_time_or_none(new.starts_at),
                    db_time_or_none(new.ends_at),
                    new.version,
                    db_time(self._now),
                    current.id,
                    current.version,
                ),
            )
        except sqlite3.IntegrityError as exc:
            # The name index's columns start with the one-active index's: test it first.
            if is_unique_violation(exc, _NAME_INDEX):
                self._raise_duplicate(exc, new)
            if is_unique_violation(exc, "sprints.project_id"):
                raise RuleViolationError(
                    ONE_ACTIVE_RULE, "status", "another sprint of this project is already active"
                ) from exc
            raise
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)


def from_row(row: sqlite3.Row) -> Sprint:
    return Sprint(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        goal=row["goal"],
        status=SprintStatus(row["status"]),
        starts_at=parse_db_time_or_none(row["starts_at"]),
        ends_at=parse_db_time_or_none(row["ends_at"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
