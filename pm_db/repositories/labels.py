"""Labels: a project's tags for its items.

A label's name is unique among the project's live labels, ignoring case
(``Bug`` and ``bug`` are one label); a deleted label's name is free again.
The colour is ``#rrggbb`` in lower case. Which items carry a label is
:mod:`pm_db.repositories.item_labels`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final, NoReturn

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType
from pm_core.errors import DuplicateError, NotFoundError
from pm_core.models import Label, LabelPatch
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.LABEL
UPDATABLE: Final = LabelPatch.field_names()
_NAME_INDEX: Final = "labels.project_id, labels.name"

_COLUMNS: Final = "id, project_id, name, color, version, created_at, updated_at, deleted_at"
INSERT: Final = """
INSERT INTO labels (id, project_id, name, color, version, created_at, updated_at)
VALUES (?, ?, ?, ?, 1, ?, ?)
"""
PROJECT_IS_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM labels WHERE id = ? AND deleted_at IS NULL"
SELECT_BY_NAME: Final = f"""
SELECT {_COLUMNS} FROM labels
WHERE project_id = ? AND name = ? COLLATE NOCASE AND deleted_at IS NULL
"""
SELECT_BY_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM labels
WHERE project_id = ? AND deleted_at IS NULL
ORDER BY name COLLATE NOCASE, id
"""
UPDATE: Final = """
UPDATE labels SET name = ?, color = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE labels SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class LabelRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(self, *, project_id: str, name: str, color: str | None = None) -> Label:
        """A label of a live project (``color`` None: the default grey)."""
        if self._conn.execute(PROJECT_IS_LIVE, (project_id,)).fetchone() is None:
            raise NotFoundError("project", project_id)
        fields = {
            "id": new_id(),
            "project_id": project_id,
            "name": name,
            "created_at": self._now,
            "updated_at": self._now,
        }
        if color is not None:
            fields["color"] = color
        label = build(Label, fields)
        stamp = db_time(self._now)
        try:
            self._conn.execute(
                INSERT, (label.id, label.project_id, label.name, label.color, stamp, stamp)
            )
        except sqlite3.IntegrityError as exc:
            self._raise_duplicate(exc, label)
        return label

    def find(self, label_id: str) -> Label | None:
        row = self._conn.execute(SELECT_LIVE, (label_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, label_id: str) -> Label:
        label = self.find(label_id)
        if label is None:
            raise NotFoundError(ENTITY, label_id)
        return label

    def list(self, project_id: str) -> list[Label]:
        """Live labels of the project, by name."""
        return [from_row(row) for row in self._conn.execute(SELECT_BY_PROJECT, (project_id,))]

    def update(
        self, label_id: str, expected_version: int | None, patch: LabelPatch
    ) -> Updated[Label]:
        current = self.get(label_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, patch.changes(), UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        try:
            cursor = self._conn.execute(
                UPDATE,
                (new.name, new.color, new.version, db_time(self._now), label_id, current.version),
            )
        except sqlite3.IntegrityError as exc:
            self._raise_duplicate(exc, new)
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, label_id: str, expected_version: int | None) -> Label:
        """Mark the label deleted (``uow.cascades`` detaches it from its items)."""
        current = self.get(label_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, label_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _raise_duplicate(self, exc: sqlite3.IntegrityError, label: Label) -> NoReturn:
        """Translate a clash on the live-name index; re-raise anything else."""
        if not is_unique_violation(exc, _NAME_INDEX):
            raise exc
        row = self._conn.execute(SELECT_BY_NAME, (label.project_id, label.name)).fetchone()
        raise DuplicateError(ENTITY, "name", None if row is None else row["id"]) from exc


def from_row(row: sqlite3.Row) -> Label:
    return Label.model_construct(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        color=row["color"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
