"""Accounts: the built-in sign-in credentials of a user (one per user, by email).

The email is kept as its key (:func:`pm_core.text.email_key`: trimmed, lower
case), unique among live accounts. ``password_hash`` is the argon2id PHC string
(:mod:`pm_auth.passwords`), or None for an invited user who has not chosen a
password yet: such an account cannot sign in. This module never sees a
password, only hashes, and an :class:`Account`'s ``repr`` leaves the hash out.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pm_core.errors import ConflictError, DuplicateError, NotFoundError
from pm_core.text import email_key
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import is_unique_violation

#: What errors call it (not a registry entity: accounts are never exported).
ENTITY_NAME: Final = "account"

_COLUMNS: Final = (
    "user_id, email_key, password_hash, password_changed_at, version, created_at, updated_at, "
    "deleted_at"
)
SELECT_BY_EMAIL: Final = (
    f"SELECT {_COLUMNS} FROM accounts WHERE email_key = ? AND deleted_at IS NULL"
)
SELECT_BY_USER: Final = f"SELECT {_COLUMNS} FROM accounts WHERE user_id = ? AND deleted_at IS NULL"
INSERT: Final = """
INSERT INTO accounts (user_id, email_key, password_hash, password_changed_at, version,
                      created_at, updated_at)
VALUES (?, ?, ?, ?, 1, ?, ?)
"""
SET_PASSWORD: Final = """
UPDATE accounts SET password_hash = ?, password_changed_at = ?, version = version + 1,
                    updated_at = ?
WHERE user_id = ? AND version = ? AND deleted_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class Account:
    user_id: str
    email_key: str
    password_hash: str | None = field(repr=False)
    password_changed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def can_sign_in(self) -> bool:
        """False until a password is set (an invited user who has not accepted yet)."""
        return self.password_hash is not None


class AccountRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def find_by_email(self, email: str) -> Account | None:
        """The live account of ``email`` (compared case-insensitively), if any."""
        row = self._conn.execute(SELECT_BY_EMAIL, (email_key(email),)).fetchone()
        return None if row is None else _from_row(row)

    def find(self, user_id: str) -> Account | None:
        row = self._conn.execute(SELECT_BY_USER, (user_id,)).fetchone()
        return None if row is None else _from_row(row)

    def get(self, user_id: str) -> Account:
        account = self.find(user_id)
        if account is None:
            raise NotFoundError(ENTITY_NAME, user_id)
        return account

    def create(self, *, user_id: str, email: str, password_hash: str | None = None) -> Account:
        """A new account of ``user_id`` (which must exist); DuplicateError if the email is taken.

        The user row must exist (foreign key); a second account of one user is a
        DuplicateError too.
        """
        key = email_key(email)
        now = self._now
        changed = now if password_hash is not None else None
        try:
            self._conn.execute(
                INSERT,
                (
                    user_id,
                    key,
                    password_hash,
                    None if changed is None else db_time(changed),
                    db_time(now),
                    db_time(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "accounts.email_key"):
                raise DuplicateError(ENTITY_NAME, "email") from exc
            if is_unique_violation(exc, "accounts.user_id"):
                raise DuplicateError(ENTITY_NAME, "user_id", user_id) from exc
            raise
        return Account(user_id, key, password_hash, changed, 1, now, now)

    def set_password(self, account: Account, password_hash: str) -> Account:
        """Store a new hash (CONFLICT if the account changed since it was read)."""
        now = self._now
        cursor = self._conn.execute(
            SET_PASSWORD,
            (password_hash, db_time(now), db_time(now), account.user_id, account.version),
        )
        if cursor.rowcount != 1:
            raise ConflictError(ENTITY_NAME, account.user_id, None, None)
        return Account(
            account.user_id,
            account.email_key,
            password_hash,
            now,
            account.version + 1,
            account.created_at,
            now,
        )


def _from_row(row: sqlite3.Row) -> Account:
    return Account(
        user_id=row["user_id"],
        email_key=row["email_key"],
        password_hash=row["password_hash"],
        password_changed_at=parse_db_time_or_none(row["password_changed_at"]),
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
