"""Small helpers every repository uses: version checks and constraint names.

Not a base class: each repository keeps its own literal SQL and ``_from_row``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Final, TypeVar

from pm_core.errors import ConflictError
from pm_core.models import Entity

E = TypeVar("E", bound=Entity)


# The display keys (KEY-n) of some work items, for messages people read.
DISPLAY_KEYS: Final = """
SELECT w.id, p.key || '-' || w.item_number FROM work_items AS w
JOIN projects AS p ON p.id = w.project_id
WHERE w.id IN (SELECT value FROM json_each(?))
"""


def display_keys(conn: sqlite3.Connection, item_ids: Sequence[str]) -> list[str]:
    """Each item's display key, in the order of ``item_ids`` (an unknown id stays as is)."""
    found = dict(conn.execute(DISPLAY_KEYS, (json.dumps(list(item_ids)),)).fetchall())
    return [found.get(item_id, item_id) for item_id in item_ids]


def check_version(entity: str, current: E, expected_version: int | None) -> None:
    """Raise CONFLICT (carrying the current row) when the caller's version is stale.

    ``expected_version`` None means "whatever the current version is".
    """
    if expected_version is not None and current.version != expected_version:
        raise ConflictError(entity, current.id, current.version, current)


def check_written(cursor: sqlite3.Cursor, entity: str, current: E) -> None:
    """The atomic version predicate matched no row: someone else wrote first."""
    if cursor.rowcount != 1:
        raise ConflictError(entity, current.id, None, None)


def is_unique_violation(exc: sqlite3.IntegrityError, index: str) -> bool:
    """True when ``exc`` was raised by the unique index or constraint ``index``.

    SQLite names the columns ("UNIQUE constraint failed: t.a, t.b") for both
    table constraints and unique indexes; callers pass that column list.
    """
    return str(exc).startswith("UNIQUE constraint failed") and index in str(exc)
