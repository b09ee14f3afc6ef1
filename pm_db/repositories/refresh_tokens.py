"""Refresh tokens: sign-in sessions as families of single-use tokens.

A sign-in starts a family (its ``family_id`` is the first token's id). Each
refresh spends the presented token and issues its successor in the same family;
a token found already spent means two parties hold the family's tokens, so the
caller revokes the whole family (:meth:`RefreshTokenRepository.revoke_family`).
Only ``sha256`` of each token's random part is stored (:mod:`pm_auth.secrets`);
this module never sees a token.

Rows are only ever stamped (``spent_at``, ``revoked_at``), never edited
otherwise, so spending uses the predicate ``spent_at IS NULL AND revoked_at IS
NULL``: of two refreshes of one token, exactly one spends it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none

_COLUMNS: Final = "id, family_id, user_id, token_hash, created_at, expires_at, spent_at, revoked_at"
SELECT: Final = f"SELECT {_COLUMNS} FROM refresh_tokens WHERE id = ?"
INSERT: Final = """
INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)
"""
SPEND: Final = """
UPDATE refresh_tokens SET spent_at = ?
WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL
"""
REVOKE_FAMILY: Final = """
UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL
"""
REVOKE_USER: Final = (
    "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
)
#: Rows past their expiry by the retention margin: refused anyway, so nothing reads them.
PURGE: Final = "DELETE FROM refresh_tokens WHERE expires_at < ?"


@dataclass(frozen=True, slots=True)
class RefreshToken:
    id: str
    family_id: str
    user_id: str
    token_hash: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    spent_at: datetime | None = None
    revoked_at: datetime | None = None


class RefreshTokenRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def find(self, token_id: str) -> RefreshToken | None:
        """The row of ``token_id`` whatever its state (spent, revoked, expired)."""
        row = self._conn.execute(SELECT, (token_id,)).fetchone()
        return None if row is None else _from_row(row)

    def insert(
        self,
        *,
        token_id: str,
        family_id: str,
        user_id: str,
        token_hash: str,
        expires_at: datetime,
    ) -> RefreshToken:
        now = self._now
        self._conn.execute(
            INSERT, (token_id, family_id, user_id, token_hash, db_time(now), db_time(expires_at))
        )
        return RefreshToken(token_id, family_id, user_id, token_hash, now, expires_at)

    def spend(self, token_id: str) -> bool:
        """Mark the token spent; False if it was spent or revoked already."""
        cursor = self._conn.execute(SPEND, (db_time(self._now), token_id))
        return cursor.rowcount == 1

    def revoke_family(self, family_id: str) -> int:
        """Revoke every token of the family not revoked yet; returns how many."""
        return self._conn.execute(REVOKE_FAMILY, (db_time(self._now), family_id)).rowcount

    def revoke_user(self, user_id: str) -> int:
        """Revoke every family of the user (a password change or reset); returns tokens revoked."""
        return self._conn.execute(REVOKE_USER, (db_time(self._now), user_id)).rowcount

    def purge_expired_before(self, cutoff: datetime) -> int:
        """Delete tokens that expired before ``cutoff``; returns how many."""
        return self._conn.execute(PURGE, (db_time(cutoff),)).rowcount


def _from_row(row: sqlite3.Row) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        family_id=row["family_id"],
        user_id=row["user_id"],
        token_hash=row["token_hash"],
        created_at=parse_db_time(row["created_at"]),
        expires_at=parse_db_time(row["expires_at"]),
        spent_at=parse_db_time_or_none(row["spent_at"]),
        revoked_at=parse_db_time_or_none(row["revoked_at"]),
    )
