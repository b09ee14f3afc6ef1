"""API keys: named keys that act as agent users; only the sha256 of the secret is stored.

A key is never edited: it is created (with its agent user, by the handler) and
revoked. Names are unique among the tenant's live (unrevoked) keys, checked
here on the tenant's single writer. ``touch`` records the last use.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.directory import ApiKey
from pm_core.errors import DuplicateError, NotFoundError
from pm_core.validation import build
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none

ENTITY: Final = "api_key"

_COLUMNS: Final = "id, user_id, name, prefix, created_by, created_at, last_used_at, revoked_at"
INSERT: Final = """
INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, created_by, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
SELECT_ONE: Final = f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE id = ?"
SELECT_LIVE_NAME: Final = "SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL"
SELECT_ALL: Final = f"SELECT {_COLUMNS} FROM api_keys ORDER BY id"
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY id"
REVOKE: Final = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
TOUCH: Final = "UPDATE api_keys SET last_used_at = ? WHERE id = ?"


class ApiKeyRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        key_id: str,
        user_id: str,
        name: str,
        prefix: str,
        secret_hash: str,
        created_by: str | None,
    ) -> ApiKey:
        """A new key; CONFLICT when a live key has the name already."""
        key = build(
            ApiKey,
            {
                "id": key_id,
                "user_id": user_id,
                "name": name,
                "prefix": prefix,
                "created_by": created_by,
                "created_at": self._now,
            },
        )
        if self._conn.execute(SELECT_LIVE_NAME, (key.name,)).fetchone() is not None:
            raise DuplicateError(ENTITY, "name")
        self._conn.execute(
            INSERT,
            (key.id, user_id, key.name, prefix, secret_hash, created_by, db_time(self._now)),
        )
        return key

    def find_with_hash(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key (revoked or not) and its stored secret hash, for checking a presented key."""
        row = self._conn.execute(SELECT_ONE, (key_id,)).fetchone()
        return None if row is None else (_from_row(row), row["secret_hash"])

    def get(self, key_id: str) -> ApiKey:
        found = self.find_with_hash(key_id)
        if found is None:
            raise NotFoundError(ENTITY, key_id)
        return found[0]

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        cursor = self._conn.execute(SELECT_ALL if include_revoked else SELECT_LIVE)
        return [_from_row(row) for row in cursor]

    def revoke(self, key_id: str) -> ApiKey:
        """The key, revoked now (a key revoked already keeps its first revocation time)."""
        key = self.get(key_id)
        if key.revoked_at is not None:
            return key
        self._conn.execute(REVOKE, (db_time(self._now), key_id))
        return key.model_copy(update={"revoked_at": self._now})

    def touch(self, key_id: str) -> None:
        self._conn.execute(TOUCH, (db_time(self._now), key_id))


def _from_row(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_by=row["created_by"],
        created_at=parse_db_time(row["created_at"]),
        last_used_at=parse_db_time_or_none(row["last_used_at"]),
        revoked_at=parse_db_time_or_none(row["revoked_at"]),
    )
