"""Ordered, additive schema migrations.

Migrations are the files ``pm_db/migrations/NNNN_name.sql``, applied in order.
Each runs in one transaction together with the row that records it in
``schema_migrations``, so a database is never left between two versions.
Re-running is a no-op; a database whose recorded version is newer than the
newest migration here is refused with :class:`SchemaTooNewError` before
anything is written.

A migration that rebuilds a table (SQLite's create-copy-drop-rename, the only
way to change a constraint) starts with the line ``-- pm:rebuilds-tables``.
It then runs with foreign-key enforcement switched off (it cannot be switched
inside a transaction, and a ``DROP TABLE`` with it on would cascade), and
``PRAGMA foreign_key_check`` must come back empty before it commits.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Final

from pm_core.errors import MigrationError, SchemaTooNewError

REBUILD_MARKER: Final = "-- pm:rebuilds-tables"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_RECORD_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""
_SELECT_VERSION: Final = "SELECT coalesce(max(version), 0) FROM schema_migrations"
_INSERT_RECORD: Final = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def rebuilds_tables(self) -> bool:
        return self.sql.lstrip().startswith(REBUILD_MARKER)


def load_migrations() -> tuple[Migration, ...]:
    """The packaged migrations, ordered and checked to be numbered 1, 2, 3, ..."""
    found = []
    for entry in resources.files("pm_db").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    check_sequence(found)
    return tuple(found)


def check_sequence(migrations: list[Migration] | tuple[Migration, ...]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"found where {expected} expected", migration.version)


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(_CREATE_RECORD_TABLE)
    row = conn.execute(_SELECT_VERSION).fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...]) -> list[int]:
    """Bring ``conn``'s database up to the newest migration; returns versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each
    migration reads the current version under the write lock it is applied
    with, so two processes opening a new database at once apply it once.
    """
    check_sequence(migrations)
    newest = migrations[-1].version if migrations else 0
    found = current_version(conn)
    if found > newest:
        raise SchemaTooNewError(found, newest)
    applied = []
    for migration in migrations[found:]:
        if _apply(conn, migration):
            applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers' BEGIN ... END stay whole)."""
    statements, pending = [], ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise MigrationError("ends with an incomplete statement")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def _apply(conn: sqlite3.Connection, migration: Migration) -> bool:
    """Apply one migration with its record in one transaction; False if already applied."""
    applied_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rebuild = migration.rebuilds_tables
    if rebuild:
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        if current_version(conn) >= migration.version:  # another process got here first
            conn.execute("ROLLBACK")
            return False
        for statement in _statements(migration.sql):
            conn.execute(statement)
        conn.execute(_INSERT_RECORD, (migration.version, migration.name, applied_at))
        if rebuild:
            violations = conn.execute("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise MigrationError(
                    f"leaves {len(violations)} foreign-key violations", migration.version
                )
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise MigrationError(f"failed: {exc}", migration.version, migration.name) from exc
        raise
    finally:
        if rebuild:
            conn.execute("PRAGMA foreign_keys = ON")
    return True
