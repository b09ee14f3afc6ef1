"""Webhook endpoints: the configuration an admin edits and the position the worker moves.

What an admin changes (name, URL, secret, filters, state) bumps ``version`` and
is guarded by it like any update. What the delivery worker moves (``acked_seq``,
``consecutive_failures``, ``last_error``) does not: an admin's edit never
conflicts with deliveries going on. Names are unique among live endpoints.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Final

from pm_core.enums import Action, EntityType, WebhookState
from pm_core.errors import ConflictError, DuplicateError, NotFoundError
from pm_core.models import Webhook
from pm_core.validation import build
from pm_core.webhooks import secret_hint
from pm_db.codec import db_time, parse_db_time, parse_db_time_or_none
from pm_db.repositories._support import is_unique_violation

ENTITY: Final = "webhook"

_COLUMNS: Final = (
    "id, name, url, secret, project_ids, entity_types, actions, state, acked_seq, "
    "consecutive_failures, last_error, created_by, version, created_at, updated_at, deleted_at"
)
INSERT: Final = f"INSERT INTO webhooks ({_COLUMNS}) VALUES ({', '.join('?' * 16)})"
SELECT_ONE: Final = f"SELECT {_COLUMNS} FROM webhooks WHERE id = ? AND deleted_at IS NULL"
SELECT_LIVE: Final = f"SELECT {_COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY id"
COUNT_LIVE: Final = "SELECT count(*) FROM webhooks WHERE deleted_at IS NULL"
UPDATE: Final = """
UPDATE webhooks
SET name = ?, url = ?, secret = ?, project_ids = ?, entity_types = ?, actions = ?, state = ?,
    consecutive_failures = ?, last_error = ?, version = version + 1, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
DELETE: Final = """
UPDATE webhooks SET deleted_at = ?, version = version + 1, updated_at = ?
WHERE id = ? AND version = ? AND deleted_at IS NULL
"""
# The worker's own columns: no version, so an admin's edit in between is not a conflict.
ACK: Final = """
UPDATE webhooks SET acked_seq = max(acked_seq, ?), consecutive_failures = 0, last_error = NULL
WHERE id = ?
"""
FAIL: Final = """
UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, last_error = ?
WHERE id = ? AND deleted_at IS NULL
RETURNING consecutive_failures
"""
DISABLE: Final = """
UPDATE webhooks SET state = 'disabled', version = version + 1, updated_at = ?
WHERE id = ? AND state = 'active' AND deleted_at IS NULL
"""


class WebhookRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def create(
        self,
        *,
        webhook_id: str,
        name: str,
        url: str,
        secret: str,
        project_ids: tuple[str, ...],
        entity_types: tuple[EntityType, ...],
        actions: tuple[Action, ...],
        acked_seq: int,
        created_by: str | None,
    ) -> Webhook:
        """A new active endpoint delivered the events after ``acked_seq``; CONFLICT on a
        name a live endpoint has."""
        webhook = build(
            Webhook,
            {
                "id": webhook_id,
                "name": name,
                "url": url,
                "secret_hint": secret_hint(secret),
                "project_ids": project_ids,
                "entity_types": entity_types,
                "actions": actions,
                "acked_seq": acked_seq,
                "created_by": created_by,
                "created_at": self._now,
                "updated_at": self._now,
            },
        )
        try:
            self._conn.execute(INSERT, (*_values(webhook, secret), *_stamps(webhook)))
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "webhooks.name"):
                raise DuplicateError(ENTITY, "name") from None
            raise
        return webhook

    def get(self, webhook_id: str) -> Webhook:
        return self.get_with_secret(webhook_id)[0]

    def get_with_secret(self, webhook_id: str) -> tuple[Webhook, str]:
        row = self._conn.execute(SELECT_ONE, (webhook_id,)).fetchone()
        if row is None:
            raise NotFoundError(ENTITY, webhook_id)
        return _from_row(row), row["secret"]

    def list(self) -> list[Webhook]:
        return [_from_row(row) for row in self._conn.execute(SELECT_LIVE)]

    def count(self) -> int:
        return int(self._conn.execute(COUNT_LIVE).fetchone()[0])

    def update(
        self,
        current: Webhook,
        expected_version: int | None,
        *,
        secret: str,
        **changes: object,
    ) -> Webhook:
        """``current`` with ``changes`` (and ``secret``), version + 1; CONFLICT when stale."""
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(ENTITY, current.id, current.version)
        changes["secret_hint"] = secret_hint(secret)
        updated = build(
            Webhook,
            {
                **current.model_dump(),
                **changes,
                "version": current.version + 1,
                "updated_at": self._now,
            },
        )
        try:
            cursor = self._conn.execute(
                UPDATE,
                (
                    *_values(updated, secret)[1:8],
                    updated.consecutive_failures,
                    updated.last_error,
                    db_time(self._now),
                    current.id,
                    current.version,
                ),
            )
        except sqlite3.IntegrityError as exc:
            if is_unique_violation(exc, "webhooks.name"):
                raise DuplicateError(ENTITY, "name") from None
            raise
        if cursor.rowcount != 1:
            raise ConflictError(ENTITY, current.id, None)
        return updated

    def delete(self, current: Webhook, expected_version: int | None) -> Webhook:
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(ENTITY, current.id, current.version)
        cursor = self._conn.execute(
            DELETE, (db_time(self._now), db_time(self._now), current.id, current.version)
        )
        if cursor.rowcount != 1:
            raise ConflictError(ENTITY, current.id, None)
        return current.model_copy(
            update={
                "deleted_at": self._now,
                "updated_at": self._now,
                "version": current.version + 1,
            }
        )

    def ack(self, webhook_id: str, seq: int) -> None:
        """The receiver took every wanted event up to ``seq``: deliver after it from now on."""
        self._conn.execute(ACK, (seq, webhook_id))

    def fail(self, webhook_id: str, error: str, max_failures: int) -> bool:
        """Count one failed attempt; True when it disabled the endpoint (``max_failures``
        in a row)."""
        row = self._conn.execute(FAIL, (error, webhook_id)).fetchone()
        if row is None or row[0] < max_failures:
            return False
        return self._conn.execute(DISABLE, (db_time(self._now), webhook_id)).rowcount == 1


def _values(webhook: Webhook, secret: str) -> tuple[object, ...]:
    return (
        webhook.id,
        webhook.name,
        webhook.url,
        secret,
        json.dumps(list(webhook.project_ids)),
        json.dumps([t.value for t in webhook.entity_types]),
        json.dumps([a.value for a in webhook.actions]),
        webhook.state.value,
        webhook.acked_seq,
        webhook.consecutive_failures,
        webhook.last_error,
        webhook.created_by,
    )


def _stamps(webhook: Webhook) -> tuple[object, ...]:
    return (webhook.version, db_time(webhook.created_at), db_time(webhook.updated_at), None)


def _from_row(row: sqlite3.Row) -> Webhook:
    return Webhook(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        secret_hint=secret_hint(row["secret"]),
        project_ids=tuple(json.loads(row["project_ids"])),
        entity_types=tuple(EntityType(t) for t in json.loads(row["entity_types"])),
        actions=tuple(Action(a) for a in json.loads(row["actions"])),
        state=WebhookState(row["state"]),
        acked_seq=row["acked_seq"],
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        created_by=row["created_by"],
        version=row["version"],
        created_at=parse_db_time(row["created_at"]),
        updated_at=parse_db_time(row["updated_at"]),
        deleted_at=parse_db_time_or_none(row["deleted_at"]),
    )
