"""Small helpers every repository uses: version checks and constraint names.

Not a base class: each repository keeps its own literal SQL and ``_from_row``.
"""

from __future__ import annotations

import sqlite3
from typing import TypeVar

from pm_core.errors import ConflictError
from pm_core.models import Entity

E = TypeVar("E", bound=Entity)


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
