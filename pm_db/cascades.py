"""What a delete takes along: the rows of other tables it soft-deletes or changes.

Every row whose version a command changes reaches subscribers as an event of
its own and the audit trail as activity rows of its own, so each cascade
returns the rows it changed (``RETURNING``), as they are after the change, in
id order. A cascade runs inside the caller's unit of work (``uow.cascades``),
stamped with the unit's time like the delete that causes it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.enums import EntityType
from pm_core.models import Entity, WorkItem
from pm_core.registry import ENTITIES, EntitySpec
from pm_db.codec import db_time
from pm_db.repositories import work_items

#: One row a cascade changed: its kind and the row after the change.
Cascaded = tuple[EntityType, Entity]

_Statement = tuple[EntitySpec, str]


def _soft_deletes(target: EntityType) -> tuple[_Statement, ...]:
    """For each entity with a cascading ref to ``target`` (the registry's), in registry
    order: the statement soft-deleting its live rows that refer to the deleted row."""
    statements = []
    for spec in ENTITIES:
        fields = [ref.field for ref in spec.refs if ref.cascade and ref.target is target]
        if fields:
            refers = " OR ".join(f"{field} = :id" for field in fields)
            sql = (
                f"UPDATE {spec.table} SET deleted_at = :stamp, updated_at = :stamp, "
                f"version = version + 1 WHERE ({refers}) AND deleted_at IS NULL RETURNING *"
            )
            statements.append((spec, sql))
    return tuple(statements)


# Soft-deleting a project soft-deletes everything in it.
_PROJECT_ROWS: Final = _soft_deletes(EntityType.PROJECT)
# Deleting a work item deletes what hangs off it (comments, time entries, dependencies).
_ITEM_ROWS: Final = _soft_deletes(EntityType.WORK_ITEM)
# Deleting a label detaches it from every item.
_LABEL_ROWS: Final = _soft_deletes(EntityType.LABEL)
# A deleted sprint's live items go back to the backlog (no sprint).
RELEASE_SPRINT_ITEMS: Final = """
UPDATE work_items SET sprint_id = NULL, version = version + 1, updated_at = ?
WHERE sprint_id = ? AND deleted_at IS NULL
RETURNING *
"""

# An ended sprint's unfinished items move on (to a sprint, or NULL: the backlog); done stays.
MOVE_OPEN_SPRINT_ITEMS: Final = """
UPDATE work_items SET sprint_id = ?, version = version + 1, updated_at = ?
WHERE sprint_id = ? AND status <> 'done' AND deleted_at IS NULL
RETURNING *
"""


class Cascades:
    """The cascades of one unit of work, stamped with its time."""

    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._stamp = db_time(now)

    def delete_project_rows(self, project_id: str) -> list[Cascaded]:
        """Soft-delete every live row of the project's tables."""
        return self._run(_PROJECT_ROWS, project_id)

    def delete_item_rows(self, item_id: str) -> list[Cascaded]:
        """Soft-delete the item's live comments, time entries and dependencies."""
        return self._run(_ITEM_ROWS, item_id)

    def delete_label_rows(self, label_id: str) -> list[Cascaded]:
        """Soft-delete the label's live attachments to items."""
        return self._run(_LABEL_ROWS, label_id)

    def release_sprint_items(self, sprint_id: str) -> list[WorkItem]:
        """Move the sprint's live items to the backlog; the items as they are now."""
        rows = self._conn.execute(RELEASE_SPRINT_ITEMS, (self._stamp, sprint_id)).fetchall()
        return sorted((work_items.from_row(row) for row in rows), key=lambda item: item.id)

    def move_open_sprint_items(self, sprint_id: str, to_sprint_id: str | None) -> list[WorkItem]:
        """Move the ended sprint's live items that are not done to ``to_sprint_id`` (None:
        the backlog); the items as they are now."""
        rows = self._conn.execute(
            MOVE_OPEN_SPRINT_ITEMS, (to_sprint_id, self._stamp, sprint_id)
        ).fetchall()
        return sorted((work_items.from_row(row) for row in rows), key=lambda item: item.id)

    def _run(self, statements: tuple[_Statement, ...], owner_id: str) -> list[Cascaded]:
        cascaded: list[Cascaded] = []
        for spec, sql in statements:
            rows = self._conn.execute(sql, {"stamp": self._stamp, "id": owner_id}).fetchall()
            # Validated through the model (any entity's row, no decoder per table): a
            # cascade is rare, and its rows were validated on the way in.
            changed = sorted((spec.model.model_validate(dict(row)) for row in rows), key=_id)
            cascaded.extend((spec.entity_type, entity) for entity in changed)
        return cascaded


def _id(entity: Entity) -> str:
    return entity.id
