"""Comments on work items, oldest first."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import Comment, WorkItem
from pm_core.validation import build, merge
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_version, check_written

ENTITY: Final = EntityType.COMMENT
UPDATABLE: Final = frozenset({"body"})
MAX_LIMIT: Final = 1000

INSERT: Final = """
INSERT INTO comments (id, project_id, work_item_id, author_id, body, version,
                      created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = "SELECT * FROM comments WHERE id = ? AND deleted_at IS NULL"
# Keyset paging: the page after ``after_id`` (a comment of the same item, live or not; a
# comment of another item is no cursor, so the answer reveals nothing about it).
SELECT_FOR_ITEM: Final = """
SELECT * FROM comments
WHERE work_item_id = :work_item_id AND deleted_at IS NULL
  AND (:after_id IS NULL
       OR (created_at, id) > (SELECT created_at, id FROM comments
                              WHERE id = :after_id AND work_item_id = :work_item_id))
ORDER BY created_at, id
LIMIT :limit
"""
UPDATE: Final = """
UPDATE comments SET body = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE comments SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


class CommentRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(self, *, item: WorkItem, author_id: str, body: str) -> Comment:
        """Comment on a live item (loaded by the caller); the comment belongs to its project."""
        comment = build(
            Comment,
            {
                "id": new_id(),
                "project_id": item.project_id,
                "work_item_id": item.id,
                "author_id": author_id,
                "body": body,
                "created_at": self._now,
                "updated_at": self._now,
            },
        )
        self._conn.execute(
            INSERT,
            (
                comment.id,
                comment.project_id,
                comment.work_item_id,
                comment.author_id,
                comment.body,
                db_time(self._now),
                db_time(self._now),
            ),
        )
        return comment

    def find(self, comment_id: str) -> Comment | None:
        row = self._conn.execute(SELECT_LIVE, (comment_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, comment_id: str) -> Comment:
        comment = self.find(comment_id)
        if comment is None:
            raise NotFoundError(ENTITY, comment_id)
        return comment

    def list(
        self, work_item_id: str, *, limit: int = 100, after_id: str | None = None
    ) -> list[Comment]:
        """Live comments of the item, oldest first; ``after_id`` continues a previous page."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        parameters = {"work_item_id": work_item_id, "after_id": after_id, "limit": limit}
        return [from_row(row) for row in self._conn.execute(SELECT_FOR_ITEM, parameters)]

    def edit(self, comment_id: str, expected_version: int | None, body: str) -> Updated[Comment]:
        current = self.get(comment_id)
        check_version(ENTITY, current, expected_version)
        new = merge(
            current, {"body": body}, UPDATABLE, version=current.version + 1, updated_at=self._now
        )
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        cursor = self._conn.execute(
            UPDATE, (new.body, new.version, db_time(self._now), comment_id, current.version)
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, comment_id: str, expected_version: int | None) -> Comment:
        current = self.get(comment_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, comment_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )


def from_row(row: sqlite3.Row) -> Comment:
    return Comment(
        id=row["id"],
        project_id=row["project_id"],
        work_item_id=row["work_item_id"],
        author_id=row["author_id"],
        body=row["body"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
