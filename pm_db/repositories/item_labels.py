"""Labels attached to items: one live row per item and label.

Attaching needs a live item and a live label of the same project; attaching
a label the item already carries is a CONFLICT. Detaching soft-deletes the
row (attaching again adds a new one), so the audit trail keeps both. A
deleted item or label takes its rows along (``uow.cascades``).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Final

from pm_core.enums import EntityType
from pm_core.errors import DuplicateError, NotFoundError, RuleViolationError
from pm_core.models import ItemLabel, Label, WorkItem
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_written, is_unique_violation

ENTITY: Final = EntityType.ITEM_LABEL
_LIVE_INDEX: Final = "item_labels.work_item_id, item_labels.label_id"

_COLUMNS: Final = (
    "id, project_id, work_item_id, label_id, created_by, version, created_at, updated_at, "
    "deleted_at"
)
INSERT: Final = """
INSERT INTO item_labels (id, project_id, work_item_id, label_id, created_by, version,
                         created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_ATTACHED: Final = f"""
SELECT {_COLUMNS} FROM item_labels
WHERE work_item_id = ? AND label_id = ? AND deleted_at IS NULL
"""
SELECT_BY_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM item_labels WHERE project_id = ? AND deleted_at IS NULL ORDER BY id
"""
SELECT_BY_ITEM: Final = f"""
SELECT {_COLUMNS} FROM item_labels WHERE work_item_id = ? AND deleted_at IS NULL ORDER BY id
"""
# The label names of many items at once (search results), by item.
SELECT_NAMES_OF_ITEMS: Final = """
SELECT il.work_item_id, l.name FROM item_labels AS il JOIN labels AS l ON l.id = il.label_id
WHERE il.work_item_id IN (SELECT value FROM json_each(?)) AND il.deleted_at IS NULL
  AND l.deleted_at IS NULL
ORDER BY l.name COLLATE NOCASE
"""
SOFT_DELETE: Final = """
UPDATE item_labels SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class ItemLabelRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def attach(self, *, item: WorkItem, label: Label, created_by: str) -> ItemLabel:
        """Attach ``label`` to ``item`` (both loaded live by the caller)."""
        if label.project_id != item.project_id:
            raise RuleViolationError(
                "label.project", "label_id", "the label belongs to another project than the item"
            )
        stamp = db_time(self._now)
        attached = ItemLabel(
            id=new_id(),
            project_id=item.project_id,
            work_item_id=item.id,
            label_id=label.id,
            created_by=created_by,
            created_at=self._now,
            updated_at=self._now,
        )
        try:
            self._conn.execute(
                INSERT,
                (
                    attached.id,
                    attached.project_id,
                    attached.work_item_id,
                    attached.label_id,
                    attached.created_by,
                    stamp,
                    stamp,
                ),
            )
        except sqlite3.IntegrityError as exc:
            if not is_unique_violation(exc, _LIVE_INDEX):
                raise
            existing = self.find(item.id, label.id)
            raise DuplicateError(
                ENTITY, "label", None if existing is None else existing.id
            ) from exc
        return attached

    def find(self, item_id: str, label_id: str) -> ItemLabel | None:
        row = self._conn.execute(SELECT_ATTACHED, (item_id, label_id)).fetchone()
        return None if row is None else from_row(row)

    def detach(self, item_id: str, label_id: str) -> ItemLabel:
        """Soft-delete the live attachment; NOT_FOUND (of the label) when there is none."""
        current = self.find(item_id, label_id)
        if current is None:
            raise NotFoundError(ENTITY, label_id, "the item does not carry this label")
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

    def list(self, project_id: str) -> list[ItemLabel]:
        """The project's live attachments, oldest first."""
        return [from_row(row) for row in self._conn.execute(SELECT_BY_PROJECT, (project_id,))]

    def of_item(self, item_id: str) -> builtins.list[ItemLabel]:
        return [from_row(row) for row in self._conn.execute(SELECT_BY_ITEM, (item_id,))]

    def names_of(self, item_ids: Collection[str]) -> dict[str, builtins.list[str]]:
        """The live label names of each item (by name), for the items that have any."""
        names: dict[str, builtins.list[str]] = {}
        rows = self._conn.execute(SELECT_NAMES_OF_ITEMS, (_json(item_ids),))
        for item_id, name in rows:
            names.setdefault(item_id, []).append(name)
        return names


def _json(values: Collection[str]) -> str:
    return json.dumps(list(values))


def from_row(row: sqlite3.Row) -> ItemLabel:
    return ItemLabel.model_construct(
        id=row["id"],
        project_id=row["project_id"],
        work_item_id=row["work_item_id"],
        label_id=row["label_id"],
        created_by=row["created_by"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
