"""Users: people and agents, known by the subject of their verified token.

A user row is written from the token on every connection (:meth:`upsert`), so
the token issuer, not this table, is the source of truth: an upsert inserts a
new user, refreshes a known one (a new version only when a field actually
changed) and brings a soft-deleted user back to life.

The server never deletes a user; a soft-deleted row (an imported tenant may
hold one) keeps its project memberships and is absent from reads until its
next upsert.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from pm_core.enums import EntityType, UserKind
from pm_core.errors import NotFoundError
from pm_core.models import User
from pm_core.validation import build
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import check_written

ENTITY: Final = EntityType.USER

_COLUMNS: Final = (
    "id, display_name, email, is_tenant_admin, kind, version, created_at, updated_at, deleted_at"
)
INSERT: Final = """
INSERT INTO users (id, display_name, email, is_tenant_admin, kind, version, created_at,
                   updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
"""
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM users WHERE id = ? AND deleted_at IS NULL"
SELECT_ANY: Final = f"SELECT {_COLUMNS} FROM users WHERE id = ?"
# Also revives a soft-deleted row: an upsert always leaves the user live.
REFRESH: Final = """
UPDATE users SET display_name = ?, email = ?, is_tenant_admin = ?, kind = ?,
                 deleted_at = NULL, version = ?, updated_at = ?
WHERE id = ? AND version = ?
"""


class UserRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def upsert(
        self,
        *,
        user_id: str,
        display_name: str,
        email: str | None = None,
        is_tenant_admin: bool = False,
        kind: UserKind | None = None,
    ) -> User:
        """The user as the token describes it, inserted, refreshed or revived.

        The version moves only when a stored field changes (or the user was
        deleted), so reconnecting with the same token writes nothing. ``kind``
        None keeps the stored kind (a new user is human).
        """
        fields: dict[str, object] = {
            "display_name": display_name,
            "email": email,
            "is_tenant_admin": is_tenant_admin,
        }
        if kind is not None:
            fields["kind"] = kind
        row = self._conn.execute(SELECT_ANY, (user_id,)).fetchone()
        if row is None:
            return self._insert(user_id, fields)
        current = from_row(row)
        wanted = build(User, {**current.model_dump(), **fields, "deleted_at": None})
        if wanted == current:
            return current
        new = wanted.model_copy(update={"version": current.version + 1, "updated_at": self._now})
        cursor = self._conn.execute(
            REFRESH,
            (
                new.display_name,
                new.email,
                int(new.is_tenant_admin),
                new.kind,
                new.version,
                db_time(self._now),
                user_id,
                current.version,
            ),
        )
        check_written(cursor, ENTITY, current)
        return new

    def _insert(self, user_id: str, fields: Mapping[str, object]) -> User:
        now = self._now
        user = build(User, {"id": user_id, **fields, "created_at": now, "updated_at": now})
        self._conn.execute(
            INSERT,
            (
                user.id,
                user.display_name,
                user.email,
                int(user.is_tenant_admin),
                user.kind,
                db_time(now),
                db_time(now),
            ),
        )
        return user

    def find(self, user_id: str) -> User | None:
        row = self._conn.execute(SELECT_LIVE, (user_id,)).fetchone()
        return None if row is None else from_row(row)

    def get(self, user_id: str) -> User:
        user = self.find(user_id)
        if user is None:
            raise NotFoundError(ENTITY, user_id)
        return user


def from_row(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        display_name=row["display_name"],
        email=row["email"],
        is_tenant_admin=bool(row["is_tenant_admin"]),
        kind=UserKind(row["kind"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
