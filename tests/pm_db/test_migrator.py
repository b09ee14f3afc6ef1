"""Migrations: from empty, re-run no-op, newer schema refused, atomic, table rebuilds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pm_core.errors import MigrationError, SchemaTooNewError
from pm_db.migrator import (
    REBUILD_MARKER,
    Migration,
    _apply,
    current_version,
    load_migrations,
    migrate,
)
from pm_db.tenants import TenantDatabases


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    yield conn
    conn.close()


def schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    ).fetchall()


def test_packaged_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"


def test_migrate_from_empty_applies_everything_with_records(raw: sqlite3.Connection) -> None:
    migrations = load_migrations()
    applied = migrate(raw, migrations)
    assert applied == [m.version for m in migrations]
    assert current_version(raw) == len(migrations)
    records = raw.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert records == [(m.version, m.name) for m in migrations]
    tables = {name for name, _ in schema(raw)}
    assert {"projects", "work_items", "events", "activity_log", "llm_context"} <= tables


def test_rerunning_migrations_is_a_no_op(raw: sqlite3.Connection) -> None:
    migrations = load_migrations()
    migrate(raw, migrations)
    before = schema(raw)
    epoch = raw.execute("SELECT value FROM tenant_meta WHERE key = 'epoch'").fetchone()
    assert migrate(raw, migrations) == []
    assert schema(raw) == before
    assert raw.execute("SELECT value FROM tenant_meta WHERE key = 'epoch'").fetchone() == epoch


def test_newer_schema_is_refused_before_anything_is_written(raw: sqlite3.Connection) -> None:
    migrations = load_migrations()
    migrate(raw, migrations)
    newer = len(migrations) + 1
    raw.execute(
        "INSERT INTO schema_migrations VALUES (?, 'from_the_future', '2030-01-01T00:00:00Z')",
        (newer,),
    )
    before = schema(raw)
    changes = raw.total_changes
    with pytest.raises(SchemaTooNewError, match="newer than this server") as info:
        migrate(raw, migrations)
    assert (info.value.found, info.value.supported) == (newer, len(migrations))
    assert info.value.code == "UNAVAILABLE"
    assert not info.value.retryable
    assert schema(raw) == before
    assert raw.total_changes == changes


async def test_tenant_with_newer_schema_refuses_to_open(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    try:
        async with databases.use("acme") as db:
            path = db.path
        await databases.close()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
        conn.close()
        databases = TenantDatabases(tmp_path)
        with pytest.raises(SchemaTooNewError):
            async with databases.use("acme"):
                pass
        assert databases.open_count == 0
    finally:
        await databases.close()


def test_failed_migration_leaves_the_previous_version(raw: sqlite3.Connection) -> None:
    migrations = (
        Migration(1, "one", "CREATE TABLE a (x INTEGER);"),
        Migration(2, "two", "CREATE TABLE b (x INTEGER);\nINSERT INTO nowhere VALUES (1);"),
    )
    with pytest.raises(MigrationError, match="migration 2"):
        migrate(raw, migrations)
    assert current_version(raw) == 1
    tables = {name for name, _ in schema(raw)}
    assert "a" in tables
    assert "b" not in tables
    assert not raw.in_transaction


def test_gap_in_migration_numbers_is_refused(raw: sqlite3.Connection) -> None:
    with pytest.raises(MigrationError, match="found where 2 expected"):
        migrate(raw, (Migration(1, "one", "SELECT 1;"), Migration(3, "three", "SELECT 1;")))


PARENT_CHILD = Migration(
    1,
    "parent_child",
    """
    CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE child (id INTEGER PRIMARY KEY,
                        parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);
    INSERT INTO parent VALUES (1, 'p');
    INSERT INTO child VALUES (10, 1), (11, 1);
    """,
)


def test_table_rebuild_keeps_rows_that_reference_the_rebuilt_table(
    raw: sqlite3.Connection,
) -> None:
    rebuild = Migration(
        2,
        "parent_name_not_null",
        f"""{REBUILD_MARKER}
        CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
        INSERT INTO parent_new (id, name) SELECT id, coalesce(name, '') FROM parent;
        DROP TABLE parent;
        ALTER TABLE parent_new RENAME TO parent;
        """,
    )
    migrate(raw, (PARENT_CHILD, rebuild))
    # With foreign keys on, DROP TABLE parent would have cascaded into child.
    assert raw.execute("SELECT count(*) FROM child").fetchone()[0] == 2
    assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert (
        "NOT NULL"
        in raw.execute("SELECT sql FROM sqlite_master WHERE name = 'parent'").fetchone()[0]
    )


def test_table_rebuild_that_breaks_foreign_keys_is_rolled_back(raw: sqlite3.Connection) -> None:
    broken = Migration(
        2,
        "drops_parents",
        f"""{REBUILD_MARKER}
        CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT);
        DROP TABLE parent;
        ALTER TABLE parent_new RENAME TO parent;
        """,
    )
    with pytest.raises(MigrationError, match="foreign-key violations"):
        migrate(raw, (PARENT_CHILD, broken))
    assert current_version(raw) == 1
    assert raw.execute("SELECT count(*) FROM parent").fetchone()[0] == 1
    assert raw.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migration_applied_meanwhile_by_another_process_is_skipped(tmp_path: Path) -> None:
    first = sqlite3.connect(tmp_path / "race.db", isolation_level=None)
    second = sqlite3.connect(tmp_path / "race.db", isolation_level=None)
    try:
        migrations = load_migrations()
        # Both saw version 0; the first applies everything, then the second tries.
        assert current_version(second) == 0
        migrate(first, migrations)
        assert not _apply(second, migrations[0])
        records = second.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert records == len(migrations)
    finally:
        first.close()
        second.close()


def test_migration_with_a_trigger_is_split_into_whole_statements(raw: sqlite3.Connection) -> None:
    migration = Migration(
        1,
        "trigger",
        """
        CREATE TABLE t (x INTEGER);
        CREATE TABLE log (x INTEGER);
        -- a trigger body holds semicolons of its own
        CREATE TRIGGER t_log AFTER INSERT ON t BEGIN
            INSERT INTO log VALUES (new.x);
            INSERT INTO log VALUES (new.x * 10);
        END;
        INSERT INTO t VALUES (1);
        """,
    )
    migrate(raw, (migration,))
    assert raw.execute("SELECT x FROM log ORDER BY x").fetchall() == [(1,), (10,)]
