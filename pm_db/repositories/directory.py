"""The users list (``list_users``): who is in the tenant, as one caller may see it.

Every live user is listed with id, name, kind and whether active; the email only
when the caller may see it: the caller's own, a user sharing a live project with
the caller, or anyone for a tenant admin. The text filter matches name and id,
and the email only where it is visible (a hidden email cannot be probed by
filtering on it).

Active: an agent with a live API key; a human without a pending account (an
invited user is inactive until the invitation is accepted).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.directory import DirectoryEntry
from pm_db.repositories.users import from_row as user_from_row

MAX_LIMIT: Final = 500

# ?1 viewer is tenant admin, ?2 viewer id, ?3 lower-cased filter ('' for none), ?4 limit
SELECT: Final = """
WITH listed AS (
    SELECT u.*,
        (?1 OR u.id = ?2 OR EXISTS (
            SELECT 1 FROM project_members theirs
            JOIN project_members mine ON mine.project_id = theirs.project_id
                AND mine.user_id = ?2 AND mine.deleted_at IS NULL
            JOIN projects p ON p.id = theirs.project_id AND p.deleted_at IS NULL
            WHERE theirs.user_id = u.id AND theirs.deleted_at IS NULL
        )) AS email_visible,
        CASE WHEN u.kind = 'agent' THEN EXISTS (
            SELECT 1 FROM api_keys k WHERE k.user_id = u.id AND k.revoked_at IS NULL
        ) ELSE NOT EXISTS (
            SELECT 1 FROM accounts a
            WHERE a.user_id = u.id AND a.password_hash IS NULL AND a.deleted_at IS NULL
        ) END AS active
    FROM users u
    WHERE u.deleted_at IS NULL
)
SELECT * FROM listed
WHERE ?3 = '' OR instr(lower(display_name), ?3) > 0 OR instr(lower(id), ?3) > 0
   OR (email_visible AND instr(lower(coalesce(email, '')), ?3) > 0)
ORDER BY lower(display_name), id
LIMIT ?4
"""


class DirectoryRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def list(
        self, *, viewer_id: str, viewer_is_admin: bool, text: str = "", limit: int = 100
    ) -> list[DirectoryEntry]:
        """Users ordered by name (case-insensitive), then id; at most ``limit``."""
        cursor = self._conn.execute(
            SELECT, (int(viewer_is_admin), viewer_id, text.strip().lower(), limit)
        )
        return [_entry(row) for row in cursor]


def _entry(row: sqlite3.Row) -> DirectoryEntry:
    user = user_from_row(row)
    if not row["email_visible"]:
        user = user.model_copy(update={"email": None})
    return DirectoryEntry(user=user, active=bool(row["active"]))
