"""llm_context: documentation rows that AI agents read and write.

A row belongs to one project, or to the whole tenant when ``project_id`` is
NULL (the rows seeded by migration 0002 are of that kind). Agents read them
ordered by priority, most important first.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType, LlmContextType
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import LlmContext, LlmContextPatch
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written

ENTITY: Final = EntityType.LLM_CONTEXT
UPDATABLE: Final = LlmContextPatch.field_names()
MAX_LIMIT: Final = 1000

_COLUMNS: Final = (
    "id, project_id, context_type, category, title, content, example_sql, priority, "
    "created_by, version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO llm_context (id, project_id, context_type, category, title, content, example_sql,
                         priority, created_by, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM llm_context WHERE id = ? AND deleted_at IS NULL"
SELECT_PROJECT_LIVE: Final = "SELECT 1 FROM projects WHERE id = ? AND deleted_at IS NULL"
# Filters that are not given are bound as NULL; the context types travel as a
# JSON array so the statement stays literal whatever their number.
SELECT_LIST: Final = f"""
SELECT {_COLUMNS} FROM llm_context
WHERE deleted_at IS NULL
  AND (project_id = ? OR (? AND project_id IS NULL))
  AND (? IS NULL OR context_type IN (SELECT value FROM json_each(?)))
  AND (? IS NULL OR category = ?)
ORDER BY priority DESC, title, id
LIMIT ?
"""
UPDATE: Final = """
UPDATE llm_context
SET context_type = ?, category = ?, title = ?, content = ?, example_sql = ?, priority = ?,
    version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE llm_context SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class LlmContextRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        context_type: LlmContextType,
        title: str,
        content: str,
        category: str = "",
        example_sql: str | None = None,
        priority: int = 50,
        project_id: str | None = None,
        created_by: str | None = None,
    ) -> LlmContext:
        now = self._now
        context = build(
            LlmContext,
            {
                "id": new_id(),
                "project_id": project_id,
                "context_type": context_type,
                "category": category,
                "title": title,
                "content": content,
                "example_sql": example_sql,
                "priority": priority,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
            },
        )
        if (
            project_id is not None
            and self._conn.execute(SELECT_PROJECT_LIVE, (project_id,)).fetchone() is None
        ):
            raise NotFoundError("project", project_id)
        try:
            self._conn.execute(
                INSERT,
                (
                    context.id,
                    context.project_id,
                    context.context_type,
                    context.category,
                    context.title,
                    context.content,
                    context.example_sql,
                    context.priority,
                    context.created_by,
                    db_time(now),
                    db_time(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            # The project was checked above, so a foreign-key failure is the author.
            if created_by is not None and "FOREIGN KEY" in str(exc):
                raise NotFoundError("user", created_by) from exc
            raise
        return context

    def find(self, context_id: str) -> LlmContext | None:
        row = self._conn.execute(SELECT_LIVE, (context_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, context_id: str) -> LlmContext:
        context = self.find(context_id)
        if context is None:
            raise NotFoundError(ENTITY, context_id)
        return context

    def list(
        self,
        *,
        project_id: str | None = None,
        include_global: bool = True,
        context_types: Collection[LlmContextType] | None = None,
        category: str | None = None,
        limit: int = 200,
    ) -> list[LlmContext]:
        """Live rows of ``project_id`` plus, when ``include_global``, the tenant-wide rows.

        Ordered by priority (highest first), then title. With ``project_id``
        None only tenant-wide rows can match.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        types = (
            None
            if context_types is None
            else json.dumps(sorted(LlmContextType(t).value for t in context_types))
        )
        cursor = self._conn.execute(
            SELECT_LIST,
            (project_id, include_global, types, types, category, category, limit),
        )
        return [from_row(row) for row in cursor]

    def update(
        self, context_id: str, expected_version: int | None, patch: LlmContextPatch
    ) -> Updated[LlmContext]:
        current = self.get(context_id)
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
                new.context_type,
                new.category,
                new.title,
                new.content,
                new.example_sql,
                new.priority,
                new.version,
                db_time(self._now),
                context_id,
                current.version,
            ),
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, context_id: str, expected_version: int | None) -> LlmContext:
        """Mark the row deleted; it stays in the table but no read returns it."""
        current = self.get(context_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, context_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )


def from_row(row: sqlite3.Row) -> LlmContext:
    return LlmContext(
        id=row["id"],
        project_id=row["project_id"],
        context_type=LlmContextType(row["context_type"]),
        category=row["category"],
        title=row["title"],
        content=row["content"],
        example_sql=row["example_sql"],
        priority=row["priority"],
        created_by=row["created_by"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
