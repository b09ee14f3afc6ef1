"""The delivery log of webhook endpoints: one row per attempt, the newest kept.

Rows are only inserted; each ``record`` trims the endpoint's log to its newest
:data:`KEEP` rows, so the log stays bounded however long an endpoint lives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from pm_core.webhooks import WebhookDelivery
from pm_db.codec import db_time, parse_db_time

#: Attempts kept per endpoint.
KEEP: Final = 1_000

INSERT: Final = """
INSERT INTO webhook_deliveries
    (id, webhook_id, seq, attempt, ok, status_code, error, duration_ms, manual, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
SELECT_PAGE: Final = """
SELECT id, webhook_id, seq, attempt, ok, status_code, error, duration_ms, manual, created_at
FROM webhook_deliveries
WHERE webhook_id = ? AND id < ?
ORDER BY id DESC
LIMIT ?
"""
# Everything older than the KEEP-th newest row of the endpoint.
TRIM: Final = """
DELETE FROM webhook_deliveries
WHERE webhook_id = ?1 AND id < (
    SELECT id FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2
)
"""
#: Above every UUIDv7 (they are hex and dashes): the first page starts here.
_TOP: Final = "~"


class WebhookDeliveryRepository:
    def __init__(self, conn: sqlite3.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def record(self, deliveries: Iterable[WebhookDelivery]) -> None:
        """Append attempts (of one or several endpoints) and trim each endpoint's log."""
        webhooks = set()
        for d in deliveries:
            webhooks.add(d.webhook_id)
            self._conn.execute(
                INSERT,
                (
                    d.id,
                    d.webhook_id,
                    d.seq,
                    d.attempt,
                    d.ok,
                    d.status_code,
                    d.error,
                    d.duration_ms,
                    d.manual,
                    db_time(d.created_at),
                ),
            )
        for webhook_id in webhooks:
            self._conn.execute(TRIM, (webhook_id, KEEP - 1))

    def list(
        self, webhook_id: str, *, before_id: str = "", limit: int = 100
    ) -> list[WebhookDelivery]:
        """The endpoint's attempts, newest first; ``before_id`` pages on."""
        cursor = self._conn.execute(SELECT_PAGE, (webhook_id, before_id or _TOP, limit))
        return [_from_row(row) for row in cursor]


def _from_row(row: sqlite3.Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        seq=row["seq"],
        attempt=row["attempt"],
        ok=bool(row["ok"]),
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=row["duration_ms"],
        manual=bool(row["manual"]),
        created_at=parse_db_time(row["created_at"]),
    )
