"""Invitations; only the sha256 of a token is stored.

Inviting an email creates (in the handler's transaction) the invited user, its
account with no password yet (:mod:`pm_db.repositories.accounts`, the one
place that writes ``accounts``), and one invitation. Inviting the same email
again while it is still pending revokes the earlier invitations and makes a new
one (a lost link is replaced, never two live at once). Accepting marks the
invitation accepted, once: the update's predicate makes a second acceptance (or
a race of two) miss.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from pm_core.directory import Invitation
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none

ENTITY: Final = "invitation"

_COLUMNS: Final = (
    "id, user_id, email_key, invited_by, created_at, expires_at, accepted_at, revoked_at"
)
INSERT: Final = """
INSERT INTO invitations (id, user_id, email_key, token_hash, invited_by, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
SELECT_ONE: Final = f"SELECT {_COLUMNS}, token_hash FROM invitations WHERE id = ?"
REVOKE_OPEN: Final = """
UPDATE invitations SET revoked_at = ?
WHERE user_id = ? AND accepted_at IS NULL AND revoked_at IS NULL
"""
ACCEPT: Final = """
UPDATE invitations SET accepted_at = ?
WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?
"""


class InvitationRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        invitation_id: str,
        user_id: str,
        email_key: str,
        token_hash: str,
        invited_by: str | None,
        expires_at: datetime,
    ) -> Invitation:
        """A new invitation for ``user_id``; its earlier pending ones are revoked."""
        invitation = Invitation(
            id=invitation_id,
            user_id=user_id,
            email_key=email_key,
            invited_by=invited_by,
            created_at=self._now,
            expires_at=expires_at,
        )
        self._conn.execute(REVOKE_OPEN, (db_time(self._now), user_id))
        self._conn.execute(
            INSERT,
            (
                invitation_id,
                user_id,
                email_key,
                token_hash,
                invited_by,
                db_time(self._now),
                db_time(expires_at),
            ),
        )
        return invitation

    def find_with_hash(self, invitation_id: str) -> tuple[Invitation, str] | None:
        row = self._conn.execute(SELECT_ONE, (invitation_id,)).fetchone()
        return None if row is None else (_from_row(row), row["token_hash"])

    def accept(self, invitation_id: str) -> bool:
        """Mark the invitation accepted; False (nothing written) if it was accepted,
        revoked or expired meanwhile."""
        now = db_time(self._now)
        return self._conn.execute(ACCEPT, (now, invitation_id, now)).rowcount == 1


def _from_row(row: sqlite3.Row) -> Invitation:
    return Invitation(
        id=row["id"],
        user_id=row["user_id"],
        email_key=row["email_key"],
        invited_by=row["invited_by"],
        created_at=parse_db_time(row["created_at"]),
        expires_at=parse_db_time(row["expires_at"]),
        accepted_at=parse_db_time_or_none(row["accepted_at"]),
        revoked_at=parse_db_time_or_none(row["revoked_at"]),
    )
