"""Work items: epics, stories and tasks, numbered per project (``KEY-12``).

Item numbers come from the project's counter, so a number is never reused,
not even after a delete. The hierarchy, sprint and assignee rules are checked
here against the database; the rules themselves live in pm_core.rules.

The list query is one literal statement with named parameters (a filter that
is None matches everything), so reading this file shows every SQL it runs.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, Priority, WorkItemStatus, WorkItemType
from pm_core.errors import DeleteBlockedError, NotFoundError, ValidationError
from pm_core.keys import parse_display_key
from pm_core.models import Sprint, WorkItem, WorkItemPatch
from pm_core.rules.dates import check_dates
from pm_core.rules.hierarchy import check_parent, check_reparent, check_type_change
from pm_core.rules.sprints import check_holds_items
from pm_core.validation import build, merge
from pm_db.codec import (
    db_date_or_none,
    db_time,
    new_id,
    parse_db_date_or_none,
    parse_db_time,
    parse_db_time_or_none,
)
from pm_db.repositories._support import check_version, check_written, display_keys
from pm_db.repositories.sprints import from_row as sprint_from_row

ENTITY: Final = EntityType.WORK_ITEM
UPDATABLE: Final = WorkItemPatch.field_names()
MAX_LIMIT: Final = 1000

# The item number comes from the project's counter (which also proves the project live).
# Every item that is or was in a sprint, deleted ones included (a sprint report counts them
# on the days they were there): those in it now, and those the activity log saw leave it.
SELECT_EVER_IN_SPRINT: Final = """
SELECT * FROM work_items
WHERE project_id = :project_id AND (
    sprint_id = :sprint_id
    OR id IN (
        SELECT entity_id FROM activity_log
        WHERE project_id = :project_id AND entity_type = 'work_item' AND field = 'sprint_id'
          AND (old_value = :logged OR new_value = :logged)
    )
)
"""
ALLOCATE_NUMBER: Final = """
UPDATE projects SET next_item_number = next_item_number + 1
WHERE id = ? AND deleted_at IS NULL
RETURNING next_item_number - 1
"""
# Without a position the item goes to the end of the board: one statement either way.
INSERT: Final = """
INSERT INTO work_items (id, project_id, item_number, type, title, description, status, priority,
                        story_points, position, parent_id, sprint_id, assignee_id, created_by,
                        start_date, due_date, version, created_at, updated_at)
VALUES (:id, :project_id, :item_number, :type, :title, :description, :status, :priority,
        :story_points,
        COALESCE(:position, (SELECT COALESCE(MAX(position), 0) + 1 FROM work_items
                             WHERE project_id = :project_id AND deleted_at IS NULL)),
        :parent_id, :sprint_id, :assignee_id, :created_by, :start_date, :due_date, 1, :now, :now)
RETURNING position
"""
SELECT_LIVE: Final = "SELECT * FROM work_items WHERE id = ? AND deleted_at IS NULL"
SELECT_BY_KEY: Final = """
SELECT w.* FROM work_items AS w JOIN projects AS p ON p.id = w.project_id
WHERE p.key = ? AND p.deleted_at IS NULL AND w.item_number = ? AND w.deleted_at IS NULL
"""
SELECT_PARENT_ID: Final = "SELECT parent_id FROM work_items WHERE id = ? AND deleted_at IS NULL"
SELECT_CHILDREN: Final = """
SELECT id, type FROM work_items WHERE parent_id = ? AND deleted_at IS NULL ORDER BY item_number
"""
SELECT_SPRINT: Final = "SELECT * FROM sprints WHERE id = ? AND deleted_at IS NULL"
SELECT_USER: Final = "SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL"
SELECT_FILTERED: Final = """
WITH RECURSIVE
    below(id) AS (
        SELECT id FROM work_items WHERE parent_id = :descendants_of AND deleted_at IS NULL
        UNION
        SELECT w.id FROM work_items AS w JOIN below AS b ON w.parent_id = b.id
        WHERE w.deleted_at IS NULL
    ),
    above(id) AS (
        SELECT parent_id FROM work_items
        WHERE id = :ancestors_of AND parent_id IS NOT NULL AND deleted_at IS NULL
        UNION
        SELECT w.parent_id FROM work_items AS w JOIN above AS a ON w.id = a.id
        WHERE w.parent_id IS NOT NULL AND w.deleted_at IS NULL
    )
SELECT w.* FROM work_items AS w
WHERE w.project_id = :project_id AND w.deleted_at IS NULL
  AND (:types IS NULL OR w.type IN (SELECT value FROM json_each(:types)))
  AND (:statuses IS NULL OR w.status IN (SELECT value FROM json_each(:statuses)))
  AND (:include_done OR w.status <> 'done')
  AND (:sprint_id IS NULL OR w.sprint_id = :sprint_id)
  AND (NOT :backlog_only OR w.sprint_id IS NULL)
  AND (:parent_id IS NULL OR w.parent_id = :parent_id)
  AND (NOT :orphans_only OR w.parent_id IS NULL)
  AND (:assignee_id IS NULL OR w.assignee_id = :assignee_id)
  AND (NOT :unassigned_only OR w.assignee_id IS NULL)
  -- The date and label filters are one term: with one more term the planner expects so few
  -- rows that it sorts them instead of walking the board order (test_query_plans).
  AND (CASE
        WHEN :due_before IS NOT NULL AND NOT coalesce(w.due_date < :due_before, 0) THEN 0
        WHEN :label_ids IS NULL THEN 1
        ELSE NOT EXISTS (
            SELECT 1 FROM json_each(:label_ids) AS wanted
            WHERE NOT EXISTS (
                SELECT 1 FROM item_labels AS il
                WHERE il.work_item_id = w.id AND il.label_id = wanted.value
                  AND il.deleted_at IS NULL))
      END)
  AND (:descendants_of IS NULL OR w.id IN (SELECT id FROM below))
  AND (:ancestors_of IS NULL OR w.id IN (SELECT id FROM above))
  AND (w.position, w.item_number) > (COALESCE(:after_position, -9e999), COALESCE(:after_number, 0))
ORDER BY w.position, w.item_number
LIMIT :limit
"""
UPDATE: Final = """
UPDATE work_items SET title = ?, description = ?, type = ?, status = ?, priority = ?,
                      story_points = ?, position = ?, parent_id = ?, sprint_id = ?,
                      assignee_id = ?, start_date = ?, due_date = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE work_items SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class WorkItemFilter:
    """What :meth:`WorkItemRepository.list` returns; every field left as is matches all.

    ``sprint_id``/``parent_id``/``assignee_id`` pick one value; the ``*_only``
    flags pick "none" (no sprint, no parent, nobody assigned). ``after`` is the
    paging cursor: the ``(position, item_number)`` of the last item already seen
    (-9e999 reads as minus infinity, so without a cursor the same range scan of
    the board-order index starts at its beginning).
    """

    types: Collection[WorkItemType] | None = None
    statuses: Collection[WorkItemStatus] | None = None
    sprint_id: str | None = None
    backlog_only: bool = False
    parent_id: str | None = None
    orphans_only: bool = False
    assignee_id: str | None = None
    unassigned_only: bool = False
    descendants_of: str | None = None
    ancestors_of: str | None = None
    include_done: bool = True
    #: Items due strictly before this day.
    due_before: date | None = None
    #: Items overdue on this day (due before it and not done): the server passes today.
    overdue_on: date | None = None
    #: Items carrying every one of these labels.
    label_ids: Collection[str] | None = None
    limit: int = 500
    after: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        for field, value, flag in (
            ("sprint_id", self.sprint_id, self.backlog_only),
            ("parent_id", self.parent_id, self.orphans_only),
            ("assignee_id", self.assignee_id, self.unassigned_only),
        ):
            if value is not None and flag:
                raise ValidationError(field, f"{field} contradicts the matching *_only flag")

    def parameters(self, project_id: str) -> dict[str, Any]:
        after_position, after_number = self.after if self.after is not None else (None, None)
        return {
            "project_id": project_id,
            "types": _json_list(self.types),
            "statuses": _json_list(self.statuses),
            # Overdue on a day = due before it and not done: one date bound and the done filter.
            "include_done": self.include_done and self.overdue_on is None,
            "sprint_id": self.sprint_id,
            "backlog_only": self.backlog_only,
            "parent_id": self.parent_id,
            "orphans_only": self.orphans_only,
            "assignee_id": self.assignee_id,
            "unassigned_only": self.unassigned_only,
            "descendants_of": self.descendants_of,
            "ancestors_of": self.ancestors_of,
            "due_before": db_date_or_none(_earliest(self.due_before, self.overdue_on)),
            "label_ids": None if not self.label_ids else json.dumps(sorted(set(self.label_ids))),
            "after_position": after_position,
            "after_number": after_number,
            "limit": self.limit,
        }


class WorkItemRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        project_id: str,
        type: WorkItemType,
        title: str,
        created_by: str,
        description: str = "",
        status: WorkItemStatus = WorkItemStatus.BACKLOG,
        priority: Priority = Priority.MEDIUM,
        story_points: int | None = None,
        parent: WorkItem | None = None,
        sprint: Sprint | None = None,
        assignee_id: str | None = None,
        position: float | None = None,
        start_date: date | None = None,
        due_date: date | None = None,
    ) -> WorkItem:
        """A new item of a live project, numbered from the project's counter.

        ``parent`` and ``sprint`` are rows the caller loaded (and may read); the
        hierarchy and sprint rules are checked against them here.
        """
        fields = {
            "id": new_id(),
            "project_id": project_id,
            "item_number": 1,  # validated with a stand-in; allocated once every check passed
            "type": type,
            "title": title,
            "description": description,
            "status": status,
            "priority": priority,
            "story_points": story_points,
            "position": 0.0 if position is None else position,
            "parent_id": None if parent is None else parent.id,
            "sprint_id": None if sprint is None else sprint.id,
            "assignee_id": assignee_id,
            "created_by": created_by,
            "start_date": start_date,
            "due_date": due_date,
            "created_at": self._now,
            "updated_at": self._now,
        }
        draft = build(WorkItem, fields)
        check_parent(draft.type, project_id, parent)
        check_dates(draft.start_date, draft.due_date)
        if sprint is not None:
            check_holds_items(sprint, project_id)
        if draft.assignee_id is not None:
            self._check_user(draft.assignee_id)
        allocated = self._conn.execute(ALLOCATE_NUMBER, (project_id,)).fetchone()
        if allocated is None:
            raise NotFoundError("project", project_id)
        (stored_position,) = self._conn.execute(
            INSERT,
            {
                "id": draft.id,
                "project_id": project_id,
                "item_number": allocated[0],
                "type": draft.type,
                "title": draft.title,
                "description": draft.description,
                "status": draft.status,
                "priority": draft.priority,
                "story_points": draft.story_points,
                "position": position,
                "parent_id": draft.parent_id,
                "sprint_id": draft.sprint_id,
                "assignee_id": draft.assignee_id,
                "created_by": draft.created_by,
                "start_date": db_date_or_none(draft.start_date),
                "due_date": db_date_or_none(draft.due_date),
                "now": db_time(self._now),
            },
        ).fetchone()
        return draft.model_copy(update={"item_number": allocated[0], "position": stored_position})

    def find(self, item_id: str) -> WorkItem | None:
        row = self._conn.execute(SELECT_LIVE, (item_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, item_id: str) -> WorkItem:
        item = self.find(item_id)
        if item is None:
            raise NotFoundError(ENTITY, item_id)
        return item

    def find_by_key(self, display_key: str) -> WorkItem | None:
        """``"pm-12"`` or ``"PM-12"``: item 12 of the live project with key PM."""
        key, number = parse_display_key(display_key)
        row = self._conn.execute(SELECT_BY_KEY, (key, number)).fetchone()
        return None if row is None else from_row(row)

    def list(self, project_id: str, filters: WorkItemFilter | None = None) -> list[WorkItem]:
        """Live items of the project, ordered by (position, item_number)."""
        parameters = (filters or WorkItemFilter()).parameters(project_id)
        return [from_row(row) for row in self._conn.execute(SELECT_FILTERED, parameters)]

    def update(
        self,
        item_id: str,
        expected_version: int | None,
        patch: WorkItemPatch,
        *,
        parent: WorkItem | None = None,
        sprint: Sprint | None = None,
    ) -> Updated[WorkItem]:
        """Apply ``patch``; a new ``parent_id`` or ``sprint_id`` comes with the row the
        caller loaded (``parent``, ``sprint``), checked here against the rules."""
        current = self.get(item_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, patch.changes(), UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        if (new.start_date, new.due_date) != (current.start_date, current.due_date):
            check_dates(new.start_date, new.due_date)
        if new.parent_id != current.parent_id or new.type != current.type:
            if new.parent_id is None:
                parent = None
            elif parent is None or parent.id != new.parent_id:
                parent = self.get(new.parent_id)  # e.g. the type changed under the same parent
            if new.parent_id != current.parent_id:
                check_reparent(item_id, new.parent_id, self._parent_of)
                check_parent(new.type, new.project_id, parent)
            if new.type != current.type:
                children = self._conn.execute(SELECT_CHILDREN, (item_id,)).fetchall()
                check_type_change(new.type, parent, [WorkItemType(row["type"]) for row in children])
        if new.sprint_id is not None and new.sprint_id != current.sprint_id:
            if sprint is None or sprint.id != new.sprint_id:
                sprint = self._sprint(new.sprint_id)
            check_holds_items(sprint, new.project_id)
        if new.assignee_id is not None and new.assignee_id != current.assignee_id:
            self._check_user(new.assignee_id)
        cursor = self._conn.execute(
            UPDATE,
            (
                new.title,
                new.description,
                new.type,
                new.status,
                new.priority,
                new.story_points,
                new.position,
                new.parent_id,
                new.sprint_id,
                new.assignee_id,
                db_date_or_none(new.start_date),
                db_date_or_none(new.due_date),
                new.version,
                db_time(self._now),
                item_id,
                current.version,
            ),
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def ever_in_sprint(self, project_id: str, sprint_id: str) -> builtins.list[WorkItem]:
        """Every item that is or was in the sprint, as it is now (deleted ones included)."""
        params = {"project_id": project_id, "sprint_id": sprint_id, "logged": json.dumps(sprint_id)}
        return [from_row(row) for row in self._conn.execute(SELECT_EVER_IN_SPRINT, params)]

    def soft_delete(self, item_id: str, expected_version: int | None) -> WorkItem:
        """Delete an item without live children (``uow.cascades`` deletes what hangs off it)."""
        current = self.get(item_id)
        check_version(ENTITY, current, expected_version)
        children = [row["id"] for row in self._conn.execute(SELECT_CHILDREN, (item_id,))]
        if children:
            key, *child_keys = display_keys(self._conn, [item_id, *children])
            raise DeleteBlockedError(
                ENTITY,
                item_id,
                "it still has child items: " + ", ".join(child_keys),
                children,
                label=key,
            )
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, item_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def _parent_of(self, item_id: str) -> str | None:
        row = self._conn.execute(SELECT_PARENT_ID, (item_id,)).fetchone()
        return None if row is None else row[0]

    def _sprint(self, sprint_id: str) -> Sprint:
        row = self._conn.execute(SELECT_SPRINT, (sprint_id,)).fetchone()
        if row is None:
            raise NotFoundError("sprint", sprint_id)
        return sprint_from_row(row)

    def _check_user(self, user_id: str) -> None:
        if self._conn.execute(SELECT_USER, (user_id,)).fetchone() is None:
            raise NotFoundError("user", user_id)


def _earliest(*days: date | None) -> date | None:
    known = [day for day in days if day is not None]
    return min(known) if known else None


def _json_list(values: Collection[str] | None) -> str | None:
    return None if values is None else json.dumps(sorted(str(value) for value in values))


def from_row(row: sqlite3.Row) -> WorkItem:
    # Rows were validated on the way in: construct without validating again (hot on lists).
    return WorkItem.model_construct(
        id=row["id"],
        project_id=row["project_id"],
        item_number=row["item_number"],
        type=WorkItemType(row["type"]),
        title=row["title"],
        description=row["description"],
        status=WorkItemStatus(row["status"]),
        priority=Priority(row["priority"]),
        story_points=row["story_points"],
        position=row["position"],
        parent_id=row["parent_id"],
        sprint_id=row["sprint_id"],
        assignee_id=row["assignee_id"],
        created_by=row["created_by"],
        start_date=parse_db_date_or_none(row["start_date"]),
        due_date=parse_db_date_or_none(row["due_date"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
