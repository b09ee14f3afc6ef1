"""What a delete takes along: the rows of other tables it soft-deletes or changes.

Every row whose version a command changes reaches subscribers as an event of
its own and the audit trail as activity rows of its own, so each cascade
returns the rows it changed (``RETURNING``), as they are after the change, in
id order. A cascade runs inside the caller's unit of work (``uow.cascades``),
stamped with the unit's time like the delete that causes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Final

from pm_core.enums import EntityType
from pm_core.models import Entity, WorkItem
from pm_db.codec import db_time
from pm_db.repositories import (
    comments,
    dependencies,
    llm_context,
    members,
    sprints,
    swim_lanes,
    time_entries,
    work_items,
)

#: One row a cascade changed: its kind and the row after the change.
Cascaded = tuple[EntityType, Entity]

_Decode = Callable[[sqlite3.Row], Entity]

_Statement = tuple[EntityType, str, _Decode]


def _soft_delete(entity_type: EntityType, table: str, where: str, decode: _Decode) -> _Statement:
    sql = (
        f"UPDATE {table} SET deleted_at = :stamp, updated_at = :stamp, version = version + 1 "
        f"WHERE {where} AND deleted_at IS NULL RETURNING *"
    )
    return entity_type, sql, decode


# Soft-deleting a project soft-deletes everything in it.
_PROJECT_ROWS: Final = tuple(
    _soft_delete(entity_type, table, "project_id = :id", decode)
    for entity_type, table, decode in (
        (EntityType.MEMBER, "project_members", members.from_row),
        (EntityType.SPRINT, "sprints", sprints.from_row),
        (EntityType.WORK_ITEM, "work_items", work_items.from_row),
        (EntityType.COMMENT, "comments", comments.from_row),
        (EntityType.TIME_ENTRY, "time_entries", time_entries.from_row),
        (EntityType.DEPENDENCY, "dependencies", dependencies.from_row),
        (EntityType.SWIM_LANE, "swim_lanes", swim_lanes.from_row),
        (EntityType.LLM_CONTEXT, "llm_context", llm_context.from_row),
    )
)
# Deleting a work item deletes what hangs off it.
_ITEM_ROWS: Final = (
    _soft_delete(EntityType.COMMENT, "comments", "work_item_id = :id", comments.from_row),
    _soft_delete(
        EntityType.TIME_ENTRY, "time_entries", "work_item_id = :id", time_entries.from_row
    ),
    _soft_delete(
        EntityType.DEPENDENCY,
        "dependencies",
        "(from_item_id = :id OR to_item_id = :id)",
        dependencies.from_row,
    ),
)
# A deleted sprint's live items go back to the backlog (no sprint).
RELEASE_SPRINT_ITEMS: Final = """
UPDATE work_items SET sprint_id = NULL, version = version + 1, updated_at = ?
WHERE sprint_id = ? AND deleted_at IS NULL
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

    def release_sprint_items(self, sprint_id: str) -> list[WorkItem]:
        """Move the sprint's live items to the backlog; the items as they are now."""
        rows = self._conn.execute(RELEASE_SPRINT_ITEMS, (self._stamp, sprint_id)).fetchall()
        return sorted((work_items.from_row(row) for row in rows), key=lambda item: item.id)

    def _run(self, statements: tuple[_Statement, ...], owner_id: str) -> list[Cascaded]:
        cascaded: list[Cascaded] = []
        for entity_type, sql, decode in statements:
            rows = self._conn.execute(sql, {"stamp": self._stamp, "id": owner_id}).fetchall()
            cascaded.extend(
                sorted(((entity_type, decode(row)) for row in rows), key=lambda pair: pair[1].id)
            )
        return cascaded
