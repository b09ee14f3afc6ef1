"""New tenants are copies of the blank database: the same as migrating, each its own."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pm_db import blank
from pm_db.migrator import load_migrations, migrate
from pm_db.paths import TenantPaths
from pm_db.tenants import TenantDatabases


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name"
        ).fetchall()
    conn.close()
    return [tuple(row) for row in rows]


def rows(path: Path, table: str, *, but: str = "") -> list[tuple[object, ...]]:
    """Every row of ``table``, without the column ``but``."""
    with sqlite3.connect(path) as conn:
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})") if c[1] != but]
        found = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1").fetchall()
    conn.close()
    return [tuple(row) for row in found]


def meta(path: Path) -> dict[str, str]:
    return dict(rows(path, "tenant_meta"))  # type: ignore[arg-type]


async def test_a_new_tenant_is_what_migrating_an_empty_file_makes(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    conn = sqlite3.connect(migrated, isolation_level=None)
    migrate(conn, load_migrations())
    conn.close()
    databases = TenantDatabases(tmp_path / "data")
    try:
        async with databases.use("acme") as db:
            version = await db.read(
                lambda uow: uow.conn.execute("SELECT max(version) FROM schema_migrations")
            )
            assert version.fetchone()[0] == load_migrations()[-1].version
    finally:
        await databases.close()
    made = databases.paths.db_path("acme")
    assert schema(made) == schema(migrated)
    # The seeded rows too: the agents' llm_context documentation (migrations that rewrite a
    # row stamp it with the time they ran, here when the blank was built).
    assert rows(made, "llm_context", but="updated_at") == rows(
        migrated, "llm_context", but="updated_at"
    )
    with sqlite3.connect(made) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert stat.S_IMODE(made.stat().st_mode) == 0o600


async def test_each_new_tenant_has_its_own_epoch_and_creation_time(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    before = datetime.now(UTC) - timedelta(seconds=1)
    try:
        epochs = []
        for tenant in ("one", "two", "three"):
            async with databases.use(tenant) as db:
                epochs.append(db.epoch)
    finally:
        await databases.close()
    assert len(set(epochs)) == 3
    for tenant, epoch in zip(("one", "two", "three"), epochs, strict=True):
        facts = meta(databases.paths.db_path(tenant))
        assert facts["epoch"] == epoch
        created = datetime.fromisoformat(facts["created_at"].replace("Z", "+00:00"))
        assert before <= created <= datetime.now(UTC)
    # No scratch file is left in the tenants folder, only the tenants.
    assert sorted(p.name for p in databases.paths.root.iterdir()) == ["one", "three", "two"]


async def test_two_processes_creating_one_tenant_at_once_share_one_database(
    tmp_path: Path,
) -> None:
    # Two TenantDatabases on one data dir stand for two processes: each may find the
    # tenant missing and write its copy; one hard link wins and both open that file.
    first, second = TenantDatabases(tmp_path), TenantDatabases(tmp_path)
    try:

        async def write(databases: TenantDatabases, user: str) -> str:
            async with databases.use("acme") as db:
                await db.write(lambda uow: uow.users.upsert(user_id=user, display_name=user))
                return db.epoch

        epochs = await asyncio.gather(*(write(d, f"u{i}") for i, d in enumerate([first, second])))
    finally:
        await first.close()
        await second.close()
    assert epochs[0] == epochs[1]
    path = first.paths.db_path("acme")
    assert [row[0] for row in rows(path, "users")] == ["u0", "u1"]
    assert sorted(p.name for p in first.paths.root.iterdir()) == ["acme"]


def test_create_leaves_an_existing_tenant_untouched(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    migrations = load_migrations()
    blank.create(paths, "acme", migrations)
    path = paths.db_path("acme")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE tenant_meta SET value = 'mine' WHERE key = 'epoch'")
    conn.close()
    blank.create(paths, "acme", migrations)  # another process got there first
    assert meta(path)["epoch"] == "mine"
    assert sorted(p.name for p in paths.root.iterdir()) == ["acme"]
