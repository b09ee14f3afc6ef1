"""Who watches which item: the users' own choices, one live row per item and user.

An item's creator and its assignee watch it with no row, so creating or
assigning an item writes nothing here. A row records a choice that differs
from, or adds to, that default: ``watching`` True for a user who chose to
watch, False for one who unwatched (a creator or assignee who does not want
to hear of it). A deleted item takes its rows along (``uow.cascades``).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.enums import EntityType
from pm_core.models import Watch, WorkItem
from pm_db.codec import db_time, new_id, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_written

ENTITY: Final = EntityType.WATCH

_COLUMNS: Final = (
    "id, project_id, work_item_id, user_id, watching, version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO watches (id, project_id, work_item_id, user_id, watching, version, created_at,
                     updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_CHOICE: Final = f"""
SELECT {_COLUMNS} FROM watches WHERE work_item_id = ? AND user_id = ? AND deleted_at IS NULL
"""
SELECT_CHOICES: Final = """
SELECT user_id, watching FROM watches WHERE work_item_id = ? AND deleted_at IS NULL
"""
SET_WATCHING: Final = """
UPDATE watches SET watching = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""


def default_watchers(item: WorkItem) -> set[str]:
    """Who watches ``item`` unless they chose otherwise: its creator and its assignee."""
    return {user for user in (item.created_by, item.assignee_id) if user is not None}


class WatchRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def find(self, item_id: str, user_id: str) -> Watch | None:
        row = self._conn.execute(SELECT_CHOICE, (item_id, user_id)).fetchone()
        return None if row is None else from_row(row)

    def choose(self, item: WorkItem, user_id: str, watching: bool) -> tuple[Watch, bool]:
        """Record that ``user_id`` does (or does not) watch ``item`` (loaded live by the
        caller): the user's row, and whether it changed (False: it said so already)."""
        current = self.find(item.id, user_id)
        stamp = db_time(self._now)
        if current is None:
            watch = Watch(
                id=new_id(),
                project_id=item.project_id,
                work_item_id=item.id,
                user_id=user_id,
                watching=watching,
                created_at=self._now,
                updated_at=self._now,
            )
            self._conn.execute(
                INSERT, (watch.id, item.project_id, item.id, user_id, watching, stamp, stamp)
            )
            return watch, True
        if current.watching == watching:
            return current, False
        cursor = self._conn.execute(SET_WATCHING, (watching, stamp, current.id, current.version))
        check_written(cursor, ENTITY, current)
        changed = current.model_copy(
            update={"watching": watching, "updated_at": self._now, "version": current.version + 1}
        )
        return changed, True

    def watchers(self, item: WorkItem) -> set[str]:
        """The users who watch ``item``: its creator and assignee unless they unwatched it,
        and whoever chose to watch it."""
        watchers = default_watchers(item)
        for user_id, watching in self._conn.execute(SELECT_CHOICES, (item.id,)):
            if watching:
                watchers.add(user_id)
            else:
                watchers.discard(user_id)
        return watchers


def from_row(row: sqlite3.Row) -> Watch:
    return Watch.model_construct(
        id=row["id"],
        project_id=row["project_id"],
        work_item_id=row["work_item_id"],
        user_id=row["user_id"],
        watching=bool(row["watching"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
