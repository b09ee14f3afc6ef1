"""Idempotency keys: the stored reply of each (user, request id) that committed.

A client that resends a request after a lost reply gets the first reply back
instead of a second write. Keys are per user: two users may use the same
request id independently. The key is recorded in the same transaction as the
write it answers, so a rolled-back write leaves no key behind.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.errors import DuplicateError, ValidationError
from pm_db.codec import db_time
from pm_db.repositories._support import is_unique_violation

ENTITY: Final = "idempotency_key"

SELECT: Final = "SELECT reply FROM idempotency_keys WHERE user_id = ? AND request_id = ?"
INSERT: Final = """
INSERT INTO idempotency_keys (user_id, request_id, reply, created_at) VALUES (?, ?, ?, ?)
"""
PURGE: Final = "DELETE FROM idempotency_keys WHERE created_at < ?"


class IdempotencyRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def get(self, user_id: str, request_id: str) -> bytes | None:
        """The reply recorded for this user's request id, or None."""
        row = self._conn.execute(SELECT, (user_id, request_id)).fetchone()
        return None if row is None else bytes(row[0])

    def record(self, user_id: str, request_id: str, reply: bytes) -> None:
        """Remember ``reply`` for the key; recording the same key twice is a DuplicateError."""
        if not user_id:
            raise ValidationError("user_id", "user id must not be empty")
        if not request_id:
            raise ValidationError("request_id", "request id must not be empty")
        try:
            self._conn.execute(INSERT, (user_id, request_id, reply, db_time(self._now)))
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "idempotency_keys.user_id, idempotency_keys.request_id"):
                raise DuplicateError(ENTITY, "request_id") from exc
            raise

    def purge_older_than(self, cutoff: datetime) -> int:
        """Forget keys recorded before ``cutoff``; returns how many went."""
        return self._conn.execute(PURGE, (db_time(cutoff),)).rowcount
