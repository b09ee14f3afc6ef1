"""The activity log: the audit trail. Append-only and never soft-deleted.

An update writes one row per changed field (old and new value); a create or
delete writes one row with no field. Values are stored as JSON text
(:func:`pm_db.codec.to_json`), so any JSON-compatible value reads back equal.
Ids are UUIDv7, so id order is time order and pages are cut on the id.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from pm_core.enums import Action, EntityType, UserKind
from pm_core.errors import ValidationError
from pm_core.models import ActivityEntry, FieldChange
from pm_core.rules.sprint_report import FieldHistory
from pm_core.validation import build
from pm_db.codec import db_time, from_json, new_id, parse_db_time, to_json

MAX_LIMIT: Final = 1000

_COLUMNS: Final = (
    "id, project_id, entity_type, entity_id, action, field, old_value, new_value, actor_id, "
    "created_at"
)
INSERT: Final = f"INSERT INTO activity_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Keyset paging, newest first: the first page passes no id, the next one the
# last id seen. The "? IS NULL OR" form keeps one literal statement per query.
SELECT_FOR_ENTITY: Final = f"""
SELECT {_COLUMNS} FROM activity_log
WHERE entity_type = ? AND entity_id = ? AND (? IS NULL OR id < ?)
ORDER BY id DESC
LIMIT ?
"""
SELECT_FOR_PROJECT: Final = f"""
SELECT {_COLUMNS} FROM activity_log
WHERE project_id = ? AND (? IS NULL OR id < ?)
ORDER BY id DESC
LIMIT ?
"""


# The logged changes of some fields of some entities (the sprint report's replay).
SELECT_FIELD_HISTORY: Final = """
SELECT entity_id, field, old_value, created_at FROM activity_log
WHERE entity_type = ? AND entity_id IN (SELECT value FROM json_each(?))
  AND field IN (SELECT value FROM json_each(?))
"""


class ActivityLogRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def record(
        self,
        *,
        entity_type: EntityType,
        entity_id: str,
        project_id: str | None,
        action: Action,
        actor_id: str | None,
        changes: Sequence[FieldChange] = (),
    ) -> list[ActivityEntry]:
        """Append the audit rows of one change to one entity; returns them in write order.

        ``updated``: one row per change (field, old, new); no changes, no rows.
        ``created``: one row without a field; ``new_value`` holds the given
        changes as an object ``{field: new}`` (NULL when none are given).
        ``deleted``: one row without a field; ``old_value`` holds ``{field: old}``.
        """
        rows: list[tuple[str | None, Any, Any]]
        if action == Action.UPDATED:
            rows = [(change.field, change.old, change.new) for change in changes]
        elif action == Action.CREATED:
            snapshot = {change.field: change.new for change in changes} or None
            rows = [(None, None, snapshot)]
        else:
            snapshot = {change.field: change.old for change in changes} or None
            rows = [(None, snapshot, None)]
        entries = [
            build(
                ActivityEntry,
                {
                    "id": new_id(),
                    "project_id": project_id,
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    "action": action,
                    "field": field,
                    "old_value": old,
                    "new_value": new,
                    "actor_id": actor_id,
                    "created_at": self._now,
                },
            )
            for field, old, new in rows
        ]
        self._conn.executemany(INSERT, [_to_row(entry) for entry in entries])
        return entries

    def field_history(
        self, entity_type: EntityType, entity_ids: Sequence[str], fields: Sequence[str]
    ) -> list[FieldHistory]:
        """Every logged change of ``fields`` of the entities, in no particular order."""
        rows = self._conn.execute(
            SELECT_FIELD_HISTORY,
            (entity_type, json.dumps(list(entity_ids)), json.dumps(list(fields))),
        )
        return [
            FieldHistory(row[0], parse_db_time(row[3]), row[1], from_json(row[2])) for row in rows
        ]

    def list_for_entity(
        self,
        entity_type: EntityType,
        entity_id: str,
        *,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[ActivityEntry]:
        """The entity's history, newest first; pass the last id seen as ``before_id``."""
        _check_limit(limit)
        cursor = self._conn.execute(
            SELECT_FOR_ENTITY, (entity_type, entity_id, before_id, before_id, limit)
        )
        return [_from_row(row) for row in cursor]

    def actor_kinds(self, entries: list[ActivityEntry]) -> dict[str, UserKind]:
        """The kind (person or agent) of each actor of ``entries`` whose user row exists.

        Read, not stored in the log: a user's kind never changes."""
        actors = sorted({e.actor_id for e in entries if e.actor_id is not None})
        if not actors:
            return {}
        marks = ", ".join("?" for _ in actors)
        cursor = self._conn.execute(f"SELECT id, kind FROM users WHERE id IN ({marks})", actors)
        return {row["id"]: UserKind(row["kind"]) for row in cursor}

    def list_for_project(
        self, project_id: str, *, limit: int = 50, before_id: str | None = None
    ) -> list[ActivityEntry]:
        """Everything recorded in one project, newest first, paged like ``list_for_entity``."""
        _check_limit(limit)
        cursor = self._conn.execute(SELECT_FOR_PROJECT, (project_id, before_id, before_id, limit))
        return [_from_row(row) for row in cursor]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")


def _to_row(entry: ActivityEntry) -> tuple[str | None, ...]:
    return (
        entry.id,
        entry.project_id,
        entry.entity_type,
        entry.entity_id,
        entry.action,
        entry.field,
        to_json(entry.old_value),
        to_json(entry.new_value),
        entry.actor_id,
        db_time(entry.created_at),
    )


def _from_row(row: sqlite3.Row) -> ActivityEntry:
    return ActivityEntry(
        id=row["id"],
        project_id=row["project_id"],
        entity_type=EntityType(row["entity_type"]),
        entity_id=row["entity_id"],
        action=Action(row["action"]),
        field=row["field"],
        old_value=from_json(row["old_value"]),
        new_value=from_json(row["new_value"]),
        actor_id=row["actor_id"],
        created_at=parse_db_time(row["created_at"]),
    )
