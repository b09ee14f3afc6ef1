"""Tenant metadata: the epoch (resume positions are only valid within one epoch)."""

from __future__ import annotations

import secrets
import sqlite3
from typing import Final

SELECT: Final = "SELECT value FROM tenant_meta WHERE key = ?"
UPSERT: Final = """
INSERT INTO tenant_meta (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""


class TenantMetaRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> str | None:
        row = self._conn.execute(SELECT, (key,)).fetchone()
        return None if row is None else str(row[0])

    def epoch(self) -> str:
        value = self.get("epoch")
        if value is None:
            raise LookupError("tenant database has no epoch")
        return value

    def new_epoch(self) -> str:
        """Give the tenant a new epoch (after a restore): older resume positions become invalid."""
        epoch = secrets.token_hex(16)
        self._conn.execute(UPSERT, ("epoch", epoch))
        return epoch
