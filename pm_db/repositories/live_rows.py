"""Any entity's live row by its type and id: where it is, not what it holds.

The activity log takes an entity named by the caller (an ``EntityType`` and an
id) and must learn which project it belongs to before it may show anything.
One query per table, built once from the registry, answers that for every
entity, so a new entity needs no edit here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pm_core.enums import EntityType
from pm_core.registry import ENTITIES

#: EntityType -> ``SELECT <its project> FROM <its table> WHERE id = ? AND deleted_at IS NULL``.
SELECT_PROJECT: Final[Mapping[EntityType, str]] = MappingProxyType(
    {
        spec.entity_type: (
            f"SELECT {spec.project_field or 'NULL'} FROM {spec.table} "
            "WHERE id = ? AND deleted_at IS NULL"
        )
        for spec in ENTITIES
    }
)


@dataclass(frozen=True, slots=True)
class LiveRow:
    entity_type: EntityType
    id: str
    #: None: the row belongs to the whole tenant (a user, a tenant-wide llm_context row).
    project_id: str | None


class LiveRowRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def find(self, entity_type: EntityType, entity_id: str) -> LiveRow | None:
        """The live row, or None when there is none (never was, or soft-deleted)."""
        row = self._conn.execute(SELECT_PROJECT[entity_type], (entity_id,)).fetchone()
        return None if row is None else LiveRow(entity_type, entity_id, row[0])
