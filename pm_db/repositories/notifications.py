"""Each user's inbox, and who in a project may be notified.

A notification is written by the unit of work of the change that causes it
(``pm_server/notifying.py``), with that change's event seq: at most one per
user and event (``notifications_user_seq``), so a retried or rolled-back
change can neither lose nor repeat one. The inbox is read newest first, paged
by ``seq``; a resume replays it oldest first after a seq. Marking read stamps
``read_at`` (and bumps the version); retention deletes old rows outright
(:data:`READ_RETENTION`, :data:`RETENTION`), like the event log's.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Final

from pm_core.enums import EntityType, NotificationReason
from pm_core.models import Notification
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none

ENTITY: Final = EntityType.NOTIFICATION
#: A notification read this long ago is purged.
READ_RETENTION: Final = timedelta(days=30)
#: Any notification this old is purged, read or not.
RETENTION: Final = timedelta(days=90)
MAX_LIMIT: Final = 500

_COLUMNS: Final = (
    "id, user_id, project_id, work_item_id, comment_id, actor_id, reason, seq, read_at, "
    "version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO notifications (id, user_id, project_id, work_item_id, comment_id, actor_id, reason,
                           seq, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
# Newest first, below a cursor (a seq; 0 = from the newest).
SELECT_PAGE: Final = f"""
SELECT {_COLUMNS} FROM notifications
WHERE user_id = ? AND (? = 0 OR seq < ?) AND (NOT ? OR read_at IS NULL)
ORDER BY seq DESC
LIMIT ?
"""
SELECT_AFTER: Final = f"""
SELECT {_COLUMNS} FROM notifications WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?
"""
COUNT_UNREAD: Final = "SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL"
MARK_READ_IDS: Final = f"""
UPDATE notifications SET read_at = ?, updated_at = ?, version = version + 1
WHERE user_id = ? AND read_at IS NULL AND id IN (SELECT value FROM json_each(?))
RETURNING {_COLUMNS}
"""
MARK_READ_UP_TO: Final = f"""
UPDATE notifications SET read_at = ?, updated_at = ?, version = version + 1
WHERE user_id = ? AND read_at IS NULL AND seq <= ?
RETURNING {_COLUMNS}
"""
# The project's live members who are live users, with what a mention may name them by.
SELECT_AUDIENCE: Final = """
SELECT u.id, u.display_name, u.email FROM project_members AS m JOIN users AS u ON u.id = m.user_id
WHERE m.project_id = ? AND m.deleted_at IS NULL AND u.deleted_at IS NULL
ORDER BY u.id
"""
PURGE: Final = """
DELETE FROM notifications
WHERE created_at < ? OR (read_at IS NOT NULL AND read_at < ?)
"""


class NotificationRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def add(self, notifications: Iterable[Notification]) -> None:
        self._conn.executemany(
            INSERT,
            [
                (
                    n.id,
                    n.user_id,
                    n.project_id,
                    n.work_item_id,
                    n.comment_id,
                    n.actor_id,
                    n.reason,
                    n.seq,
                    db_time(n.created_at),
                    db_time(n.updated_at),
                )
                for n in notifications
            ],
        )

    def audience(self, project_id: str) -> list[tuple[str, str, str | None]]:
        """(user id, display name, email) of each live member of the project."""
        rows = self._conn.execute(SELECT_AUDIENCE, (project_id,))
        return [(row[0], row[1], row[2]) for row in rows]

    def page(
        self, user_id: str, *, before: int = 0, limit: int = 50, unread_only: bool = False
    ) -> builtins.list[Notification]:
        """The user's notifications newest first, below seq ``before`` (0: from the newest)."""
        rows = self._conn.execute(SELECT_PAGE, (user_id, before, before, unread_only, limit))
        return [from_row(row) for row in rows]

    def after(self, user_id: str, seq: int, limit: int) -> builtins.list[Notification]:
        """The user's notifications above ``seq``, oldest first (a resume's replay)."""
        return [from_row(row) for row in self._conn.execute(SELECT_AFTER, (user_id, seq, limit))]

    def unread_count(self, user_id: str) -> int:
        return int(self._conn.execute(COUNT_UNREAD, (user_id,)).fetchone()[0])

    def mark_read(
        self, user_id: str, *, ids: Collection[str] = (), up_to: int = 0
    ) -> builtins.list[Notification]:
        """Mark the user's unread notifications read: those of ``ids`` (another user's ids
        match nothing), or all up to seq ``up_to``. The rows marked now."""
        stamp = db_time(self._now)
        if ids:
            rows = self._conn.execute(MARK_READ_IDS, (stamp, stamp, user_id, json.dumps(list(ids))))
        else:
            rows = self._conn.execute(MARK_READ_UP_TO, (stamp, stamp, user_id, up_to))
        return sorted((from_row(row) for row in rows), key=lambda n: n.seq)

    def purge_expired(self) -> int:
        """Delete what retention no longer keeps; returns how many went."""
        cursor = self._conn.execute(
            PURGE, (db_time(self._now - RETENTION), db_time(self._now - READ_RETENTION))
        )
        return cursor.rowcount


def from_row(row: sqlite3.Row) -> Notification:
    return Notification.model_construct(
        id=row["id"],
        user_id=row["user_id"],
        project_id=row["project_id"],
        work_item_id=row["work_item_id"],
        comment_id=row["comment_id"],
        actor_id=row["actor_id"],
        reason=NotificationReason(row["reason"]),
        seq=row["seq"],
        read_at=parse_db_time_or_none(row["read_at"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
