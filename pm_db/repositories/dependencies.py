"""Dependencies between work items: ``blocks`` (ordered, acyclic) and ``relates_to``.

A ``relates_to`` link has no direction, so A relates_to B and B relates_to A
are the same link. Dependencies are not edited, only added and deleted; a
deleted one can be added again (the unique index covers live rows only).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Final

from pm_core.enums import DependencyType, EntityType
from pm_core.errors import DependencyCycleError, DuplicateError, NotFoundError
from pm_core.models import Dependency, WorkItem
from pm_core.rules.dependencies import check_cap, check_endpoints, check_no_cycle
from pm_core.validation import build
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_written, display_keys, is_unique_violation
from pm_db.repositories.work_items import from_row as work_item_from_row

ENTITY: Final = EntityType.DEPENDENCY
_UNIQUE_KEY: Final = "endpoints and type"
#: The largest page of a project-wide read.
MAX_LIMIT: Final = 1000
_LIVE_INDEX: Final = "dependencies.from_item_id, dependencies.to_item_id, dependencies.type"

INSERT: Final = """
INSERT INTO dependencies (id, project_id, from_item_id, to_item_id, type, created_by, version,
                          created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = "SELECT * FROM dependencies WHERE id = ? AND deleted_at IS NULL"
SELECT_OUTGOING: Final = """
SELECT * FROM dependencies WHERE from_item_id = ? AND deleted_at IS NULL ORDER BY created_at, id
"""
SELECT_INCOMING: Final = """
SELECT * FROM dependencies WHERE to_item_id = ? AND deleted_at IS NULL ORDER BY created_at, id
"""
COUNT_FOR_ITEM: Final = """
SELECT COUNT(*) FROM dependencies WHERE (from_item_id = ? OR to_item_id = ?) AND deleted_at IS NULL
"""
# The same link, live: same direction and type, or for relates_to the other direction too.
SELECT_SAME: Final = """
SELECT id FROM dependencies
WHERE deleted_at IS NULL AND type = :type
  AND ((from_item_id = :from_id AND to_item_id = :to_id)
       OR (type = 'relates_to' AND from_item_id = :to_id AND to_item_id = :from_id))
"""
SELECT_BLOCKS_EDGES: Final = """
SELECT from_item_id, to_item_id FROM dependencies
WHERE project_id = ? AND type = 'blocks' AND deleted_at IS NULL
"""
# A project's live dependencies, oldest first (ids are time-ordered), after a cursor id.
SELECT_FOR_PROJECT: Final = """
SELECT * FROM dependencies
WHERE project_id = :project_id AND deleted_at IS NULL
  AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
  AND id > :after
ORDER BY id
LIMIT :limit
"""
SELECT_ITEM_NUMBERS: Final = """
SELECT id, item_number FROM work_items WHERE id IN (SELECT value FROM json_each(?))
"""
# Open items with a live `blocks` from a live item that is not done, by item number: the
# (project_id, item_number) index walks the project in order and stops at a page.
SELECT_BLOCKED: Final = """
SELECT w.* FROM work_items AS w
WHERE w.project_id = :project_id AND w.item_number > :after AND w.deleted_at IS NULL
  AND w.status <> 'done'
  AND EXISTS (
      SELECT 1 FROM dependencies AS d JOIN work_items AS b ON b.id = d.from_item_id
      WHERE d.to_item_id = w.id AND d.type = 'blocks' AND d.deleted_at IS NULL
        AND b.deleted_at IS NULL AND b.status <> 'done'
  )
ORDER BY w.item_number
LIMIT :limit
"""
# The open blockers of a page of items: (the blocked item's id, the blocker's row).
SELECT_OPEN_BLOCKERS: Final = """
SELECT d.to_item_id AS blocked_id, b.* FROM dependencies AS d
JOIN work_items AS b ON b.id = d.from_item_id
WHERE d.to_item_id IN (SELECT value FROM json_each(?)) AND d.type = 'blocks'
  AND d.deleted_at IS NULL AND b.deleted_at IS NULL AND b.status <> 'done'
ORDER BY b.item_number
"""
SOFT_DELETE: Final = """
UPDATE dependencies SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class DependencyRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self, *, from_item: WorkItem, to_item: WorkItem, type: DependencyType, created_by: str
    ) -> Dependency:
        """``from_item`` blocks (or relates to) ``to_item``: live items the caller loaded, of
        one project."""
        check_endpoints(from_item, to_item)
        dependency = build(
            Dependency,
            {
                "id": new_id(),
                "project_id": from_item.project_id,
                "from_item_id": from_item.id,
                "to_item_id": to_item.id,
                "type": type,
                "created_by": created_by,
                "created_at": self._now,
                "updated_at": self._now,
            },
        )
        same = {"type": dependency.type, "from_id": from_item.id, "to_id": to_item.id}
        existing = self._conn.execute(SELECT_SAME, same).fetchone()
        if existing is not None:
            raise DuplicateError(ENTITY, _UNIQUE_KEY, existing["id"])
        check_cap(from_item.id, self._live_count(from_item.id), field="from_item_id")
        check_cap(to_item.id, self._live_count(to_item.id), field="to_item_id")
        if dependency.type == DependencyType.BLOCKS:
            edges = self._conn.execute(SELECT_BLOCKS_EDGES, (dependency.project_id,)).fetchall()
            try:
                check_no_cycle([(row[0], row[1]) for row in edges], from_item.id, to_item.id)
            except DependencyCycleError as exc:  # name the items as people know them
                keys = display_keys(self._conn, exc.path)
                raise DependencyCycleError(exc.path, keys) from None
        try:
            self._conn.execute(
                INSERT,
                (
                    dependency.id,
                    dependency.project_id,
                    dependency.from_item_id,
                    dependency.to_item_id,
                    dependency.type,
                    dependency.created_by,
                    db_time(self._now),
                    db_time(self._now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, _LIVE_INDEX):
                raise DuplicateError(ENTITY, _UNIQUE_KEY) from exc
            raise
        return dependency

    def find(self, dependency_id: str) -> Dependency | None:
        row = self._conn.execute(SELECT_LIVE, (dependency_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, dependency_id: str) -> Dependency:
        dependency = self.find(dependency_id)
        if dependency is None:
            raise NotFoundError(ENTITY, dependency_id)
        return dependency

    def list_for_item(self, item_id: str) -> tuple[list[Dependency], list[Dependency]]:
        """The item's live dependencies: (outgoing, incoming), oldest first."""
        outgoing = [from_row(row) for row in self._conn.execute(SELECT_OUTGOING, (item_id,))]
        incoming = [from_row(row) for row in self._conn.execute(SELECT_INCOMING, (item_id,))]
        return outgoing, incoming

    def list_for_project(
        self,
        project_id: str,
        *,
        types: Collection[DependencyType] | None = None,
        after: str = "",
        limit: int = MAX_LIMIT,
    ) -> list[Dependency]:
        """The project's live dependencies with an id above ``after``, oldest first."""
        parameters = {
            "project_id": project_id,
            "types": None if types is None else json.dumps(sorted(types)),
            "after": after,
            "limit": limit,
        }
        return [from_row(row) for row in self._conn.execute(SELECT_FOR_PROJECT, parameters)]

    def item_numbers(self, item_ids: Collection[str]) -> dict[str, int]:
        """The item number of each of ``item_ids`` (for display keys)."""
        rows = self._conn.execute(SELECT_ITEM_NUMBERS, (json.dumps(list(item_ids)),))
        return {row["id"]: row["item_number"] for row in rows}

    def blocked(
        self, project_id: str, *, after: int = 0, limit: int = MAX_LIMIT
    ) -> list[tuple[WorkItem, list[WorkItem]]]:
        """Open items blocked by an open item, numbered above ``after``, with their blockers."""
        parameters = {"project_id": project_id, "after": after, "limit": limit}
        items = [work_item_from_row(row) for row in self._conn.execute(SELECT_BLOCKED, parameters)]
        blockers: dict[str, list[WorkItem]] = {item.id: [] for item in items}
        ids = json.dumps(list(blockers))
        for row in self._conn.execute(SELECT_OPEN_BLOCKERS, (ids,)):
            blockers[row["blocked_id"]].append(work_item_from_row(row))
        return [(item, blockers[item.id]) for item in items]

    def soft_delete(self, dependency_id: str) -> Dependency:
        current = self.get(dependency_id)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, dependency_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _live_count(self, item_id: str) -> int:
        return int(self._conn.execute(COUNT_FOR_ITEM, (item_id, item_id)).fetchone()[0])


def from_row(row: sqlite3.Row) -> Dependency:
    return Dependency(
        id=row["id"],
        project_id=row["project_id"],
        from_item_id=row["from_item_id"],
        to_item_id=row["to_item_id"],
        type=DependencyType(row["type"]),
        created_by=row["created_by"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
