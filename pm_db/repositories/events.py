"""The tenant's event log: one row per committed mutation, the event encoded as sent.

``seq`` is an ``INTEGER PRIMARY KEY AUTOINCREMENT``: it only ever grows, with
no gap between the rows of committed transactions, and it never repeats, not
even after old rows are purged (SQLite keeps the high-water mark in
``sqlite_sequence``). A client resumes with "everything after seq N".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Final

from pm_core.errors import ValidationError
from pm_core.models import StoredEvent
from pm_db.codec import db_time, parse_db_time

MAX_LIMIT: Final = 10_000

INSERT_WITH_SEQ: Final = (
    "INSERT INTO events (seq, project_id, payload, created_at) VALUES (?, ?, ?, ?)"
)
SELECT_AFTER: Final = """
SELECT seq, project_id, payload, created_at FROM events
WHERE seq > ?
ORDER BY seq
LIMIT ?
"""
# The project ids travel as one JSON array, so the statement stays literal
# whatever their number. Rows without a project (tenant-wide events) are
# included only when asked for.
SELECT_AFTER_FOR_PROJECTS: Final = """
SELECT seq, project_id, payload, created_at FROM events
WHERE seq > ?
  AND (project_id IN (SELECT value FROM json_each(?)) OR (? AND project_id IS NULL))
ORDER BY seq
LIMIT ?
"""
# The high-water mark survives purges in sqlite_sequence; max(seq) covers a
# database whose sequence row is missing (it is never lower than max(seq)).
SELECT_LATEST: Final = """
SELECT max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
    coalesce((SELECT max(seq) FROM events), 0)
)
"""
SELECT_OLDEST: Final = "SELECT min(seq) FROM events"
PURGE: Final = "DELETE FROM events WHERE created_at < ?"


class EventSeq:
    """The last seq a tenant's writer handed out, kept in memory so that an append reads
    nothing. Only the tenant's single writer holds one; whatever it rolls back gives its
    seqs back (``pm_db.database``), so the seqs of committed events have no gap."""

    __slots__ = ("last",)

    def __init__(self, last: int) -> None:
        self.last = last


class EventLogRepository:
    def __init__(
        self, conn: sqlite3.Connection, now: datetime, seq: EventSeq | None = None
    ) -> None:
        self._conn = conn
        self._now = now
        self._seq = seq

    def after(
        self,
        seq: int,
        *,
        project_ids: Collection[str] | None = None,
        limit: int = 1000,
        include_tenant_wide: bool = False,
    ) -> list[StoredEvent]:
        """Events with a seq above ``seq``, oldest first.

        ``project_ids`` None means every event; otherwise only events of those
        projects, plus events without a project when ``include_tenant_wide``.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
        if project_ids is None:
            cursor = self._conn.execute(SELECT_AFTER, (seq, limit))
        else:
            cursor = self._conn.execute(
                SELECT_AFTER_FOR_PROJECTS,
                (seq, json.dumps(sorted(project_ids)), include_tenant_wide, limit),
            )
        return [_from_row(row) for row in cursor]

    def latest_seq(self) -> int:
        """The highest seq ever handed out (0 for a new tenant), purged rows included."""
        return int(self._conn.execute(SELECT_LATEST).fetchone()[0])

    def oldest_seq(self) -> int | None:
        """The lowest seq still stored, or None when the log is empty."""
        value = self._conn.execute(SELECT_OLDEST).fetchone()[0]
        return None if value is None else int(value)

    def append_encoded(
        self, *, project_id: str | None, encode: Callable[[int], bytes]
    ) -> StoredEvent:
        """Store an event whose encoding carries its own seq: ``encode(seq)`` gives the payload.

        The seq is the next of the tenant; this runs on the tenant's single
        writer, so no other insert can take it in between.
        """
        if self._seq is None:  # not the writer's unit of work: ask the log
            seq = self.latest_seq() + 1
        else:
            seq = self._seq.last = self._seq.last + 1
        payload = encode(seq)
        self._conn.execute(INSERT_WITH_SEQ, (seq, project_id, payload, db_time(self._now)))
        return StoredEvent(seq=seq, project_id=project_id, payload=payload, created_at=self._now)

    def purge_older_than(self, cutoff: datetime) -> int:
        """Delete events created before ``cutoff``; returns how many went."""
        return self._conn.execute(PURGE, (db_time(cutoff),)).rowcount


def _from_row(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        project_id=row["project_id"],
        payload=bytes(row["payload"]),
        created_at=parse_db_time(row["created_at"]),
    )
