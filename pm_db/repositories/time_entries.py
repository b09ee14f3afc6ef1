"""Time entries: running timers and manually logged work.

A user has at most one running timer. :meth:`TimeEntryRepository.start` stops
the previous one first; the partial unique index ``time_entries_one_running``
is the backstop when two writers race past that check.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any, Final

from pm_core.changes import Updated, diff
from pm_core.enums import EntityType
from pm_core.errors import NotFoundError, RuleViolationError, ValidationError
from pm_core.models import TimeEntry, TimeEntryPatch, WorkItem
from pm_core.rules.timers import check_manual_entry, stop_time
from pm_core.validation import build, merge
from pm_db.codec import (
    db_time,
    db_time_or_none,
    new_id,
    parse_db_time,
    parse_db_time_or_none,
)
from pm_db.repositories._support import check_version, check_written, is_unique_violation

ENTITY: Final = EntityType.TIME_ENTRY
UPDATABLE: Final = TimeEntryPatch.field_names()
# A running entry has no end yet: it is set by stopping the timer, never by a correction.
UPDATABLE_RUNNING: Final = UPDATABLE - {"ended_at"}
MAX_LIMIT: Final = 1000

INSERT: Final = """
INSERT INTO time_entries (id, project_id, work_item_id, user_id, started_at, ended_at, note,
                          version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = "SELECT * FROM time_entries WHERE id = ? AND deleted_at IS NULL"
SELECT_RUNNING: Final = """
SELECT * FROM time_entries WHERE user_id = ? AND ended_at IS NULL AND deleted_at IS NULL
"""
# Newest first; ``before`` is the (started_at, id) of the last entry of the previous page.
SELECT_FILTERED: Final = """
SELECT * FROM time_entries
WHERE deleted_at IS NULL
  AND (:user_id IS NULL OR user_id = :user_id)
  AND (:work_item_id IS NULL OR work_item_id = :work_item_id)
  AND (:project_id IS NULL OR project_id = :project_id)
  AND (:before_started IS NULL OR (started_at, id) < (:before_started, :before_id))
ORDER BY started_at DESC, id DESC
LIMIT :limit
"""
UPDATE: Final = """
UPDATE time_entries SET started_at = ?, ended_at = ?, note = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
SOFT_DELETE: Final = """
UPDATE time_entries SET deleted_at = ?, updated_at = ?, version = version + 1
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
_ONE_RUNNING_INDEX: Final = "time_entries.user_id"


class TimeEntryRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def start(
        self, *, item: WorkItem, user_id: str, note: str = ""
    ) -> tuple[TimeEntry, TimeEntry | None]:
        """Start a timer now on a live item the caller loaded: the new running entry, and the
        user's previous one, now stopped."""
        entry = build(
            TimeEntry,
            {
                "id": new_id(),
                "project_id": item.project_id,
                "work_item_id": item.id,
                "user_id": user_id,
                "started_at": self._now,
                "note": note,
                "created_at": self._now,
                "updated_at": self._now,
            },
        )
        running = self.running(user_id)
        stopped = None if running is None else self._stop(running)
        self._insert(entry)
        return entry, stopped

    def stop(self, user_id: str) -> TimeEntry:
        """Stop the user's running timer; NotFoundError when none runs."""
        running = self.running(user_id)
        if running is None:
            raise NotFoundError("running_timer", user_id)
        return self._stop(running)

    def running(self, user_id: str) -> TimeEntry | None:
        row = self._conn.execute(SELECT_RUNNING, (user_id,)).fetchone()
        return None if row is None else from_row(row)

    def create_manual(
        self,
        *,
        item: WorkItem,
        user_id: str,
        started_at: datetime,
        ended_at: datetime,
        note: str = "",
    ) -> TimeEntry:
        """Log finished work on a live item the caller loaded."""
        check_manual_entry(started_at, ended_at, self._now)
        started_at, ended_at = started_at.astimezone(UTC), ended_at.astimezone(UTC)
        entry = build(
            TimeEntry,
            {
                "id": new_id(),
                "project_id": item.project_id,
                "work_item_id": item.id,
                "user_id": user_id,
                "started_at": started_at,
                "ended_at": ended_at,
                "note": note,
                "created_at": self._now,
                "updated_at": self._now,
            },
        )
        self._insert(entry)
        return entry

    def find(self, entry_id: str) -> TimeEntry | None:
        row = self._conn.execute(SELECT_LIVE, (entry_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, entry_id: str) -> TimeEntry:
        entry = self.find(entry_id)
        if entry is None:
            raise NotFoundError(ENTITY, entry_id)
        return entry

    def update(
        self, entry_id: str, expected_version: int | None, patch: TimeEntryPatch
    ) -> Updated[TimeEntry]:
        """Correct an entry. A running one may change only its start and note."""
        current = self.get(entry_id)
        check_version(ENTITY, current, expected_version)
        allowed = UPDATABLE_RUNNING if current.running else UPDATABLE
        new = merge(
            current, patch.changes(), allowed, version=current.version + 1, updated_at=self._now
        )
        new = new.model_copy(update=_in_utc(new.started_at, new.ended_at))
        changed = diff(current, new)
        if not changed:  # every field already holds the value asked for: write nothing
            return Updated(current, changed)
        if new.ended_at is None:
            if current.ended_at is not None:
                raise ValidationError("ended_at", "a stopped entry cannot be restarted")
            if new.started_at > self._now:
                raise RuleViolationError(
                    "timer.future", "started_at", "a timer cannot start in the future"
                )
        elif (new.started_at, new.ended_at) != (current.started_at, current.ended_at):
            # Times that came from a real timer (say 0 s, or 30 h) stay editable in the note.
            check_manual_entry(new.started_at, new.ended_at, self._now)
        cursor = self._conn.execute(
            UPDATE,
            (
                db_time(new.started_at),
                db_time_or_none(new.ended_at),
                new.note,
                new.version,
                db_time(self._now),
                entry_id,
                current.version,
            ),
        )
        check_written(cursor, ENTITY, current)
        return Updated(new, changed)

    def soft_delete(self, entry_id: str, expected_version: int | None) -> TimeEntry:
        current = self.get(entry_id)
        check_version(ENTITY, current, expected_version)
        stamp = db_time(self._now)
        cursor = self._conn.execute(SOFT_DELETE, (stamp, stamp, entry_id, current.version))
        check_written(cursor, ENTITY, current)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def list(
        self,
        *,
        user_id: str | None = None,
        work_item_id: str | None = None,
        project_id: str | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
    ) -> list[TimeEntry]:
        """Live entries, newest first; ``before`` is the last (started_at, id) already seen."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        before_started, before_id = (db_time(before[0]), before[1]) if before else (None, None)
        parameters = {
            "user_id": user_id,
            "work_item_id": work_item_id,
            "project_id": project_id,
            "before_started": before_started,
            "before_id": before_id,
            "limit": limit,
        }
        return [from_row(row) for row in self._conn.execute(SELECT_FILTERED, parameters)]

    def _stop(self, running: TimeEntry) -> TimeEntry:
        stopped = running.model_copy(
            update={
                "ended_at": stop_time(running, self._now),
                "version": running.version + 1,
                "updated_at": self._now,
            }
        )
        cursor = self._conn.execute(
            UPDATE,
            (
                db_time(stopped.started_at),
                db_time_or_none(stopped.ended_at),
                stopped.note,
                stopped.version,
                db_time(self._now),
                stopped.id,
                running.version,
            ),
        )
        check_written(cursor, ENTITY, running)
        return stopped

    def _insert(self, entry: TimeEntry) -> None:
        try:
            self._conn.execute(
                INSERT,
                (
                    entry.id,
                    entry.project_id,
                    entry.work_item_id,
                    entry.user_id,
                    db_time(entry.started_at),
                    db_time_or_none(entry.ended_at),
                    entry.note,
                    db_time(self._now),
                    db_time(self._now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, _ONE_RUNNING_INDEX):
                raise RuleViolationError(
                    "timer.one_running", "user_id", "this user already has a running timer"
                ) from exc
            raise


def _in_utc(started_at: datetime, ended_at: datetime | None) -> dict[str, Any]:
    """Times as stored (UTC), so an unchanged instant in another zone is no change."""
    return {
        "started_at": started_at.astimezone(UTC),
        "ended_at": None if ended_at is None else ended_at.astimezone(UTC),
    }


def from_row(row: sqlite3.Row) -> TimeEntry:
    return TimeEntry(
        id=row["id"],
        project_id=row["project_id"],
        work_item_id=row["work_item_id"],
        user_id=row["user_id"],
        started_at=parse_db_time(row["started_at"]),
        ended_at=parse_db_time_or_none(row["ended_at"]),
        note=row["note"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
