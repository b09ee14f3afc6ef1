"""Tenant administration on the data dir: list, online backup, restore, delete."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from pm_core.enums import LlmContextType
from pm_core.errors import (
    FileAlreadyExistsError,
    InvalidFileError,
    InvalidTenantIdError,
    NoSuchFileError,
    TenantBusyError,
    TenantExistsError,
    TenantNotFoundError,
)
from pm_db import admin
from pm_db.migrator import load_migrations
from pm_db.paths import TenantPaths, sidecar
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork

TENANT = "acme"


def note(uow: UnitOfWork, title: str) -> str:
    """One committed row that a backup either holds or not: an llm_context note."""
    return uow.llm_context.create(
        context_type=LlmContextType.EXAMPLE, title=title, content="x" * 200
    ).id


async def make_tenant(data_dir: Path, tenant: str = TENANT, notes: int = 3) -> list[str]:
    dbs = TenantDatabases(data_dir)
    try:
        async with dbs.use(tenant) as db:
            return await db.write(lambda uow: [note(uow, f"note {i}") for i in range(notes)])
    finally:
        await dbs.close()


def note_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id FROM llm_context WHERE context_type = 'example'")
        return {row[0] for row in rows}
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def epoch_of(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT value FROM tenant_meta WHERE key = 'epoch'").fetchone()[0])
    finally:
        conn.close()


# -- backup --------------------------------------------------------------------


async def test_backup_during_continuous_writes_holds_every_write_acknowledged_before_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    await make_tenant(data_dir, notes=0)
    dbs = TenantDatabases(data_dir)
    acked: list[str] = []
    backup_running = asyncio.Event()
    during: list[str] = []
    stop = False

    async def writer() -> None:
        async with dbs.use(TENANT) as db:
            number = 0
            while not stop:
                number += 1
                title = f"write {number}"
                acked.append(await db.write(lambda uow, t=title: note(uow, t)))  # type: ignore[misc]
                if backup_running.is_set():
                    during.append(acked[-1])

    # Some bulk first, so the backup takes long enough for writes to overlap it.
    async with dbs.use(TENANT) as db:
        acked.extend(await db.write(lambda uow: [note(uow, f"bulk {i}") for i in range(3000)]))
    task = asyncio.ensure_future(writer())
    while len(acked) < 3050:
        await asyncio.sleep(0.001)
    before = list(acked)
    backup_running.set()
    info = await asyncio.to_thread(
        admin.backup_tenant, TenantPaths(data_dir), TENANT, tmp_path / "acme.backup"
    )
    backup_running.clear()
    after = len(acked)
    while len(acked) < after + 20:  # the writer is still going after the backup
        await asyncio.sleep(0.001)
    stop = True
    await task
    await dbs.close()

    backup = tmp_path / "acme.backup"
    assert info.path == backup
    assert integrity(backup) == "ok"
    held = note_ids(backup)
    assert set(before) <= held
    # One consistent snapshot: exactly the first N writes, in commit order.
    assert held == set(acked[: len(held)])
    assert len(held) < len(acked)
    # A backup is one self-contained file.
    assert not sidecar(backup, "-wal").exists()
    assert during, "no write was committed while the backup ran"


async def test_backup_of_unknown_tenant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TenantNotFoundError, match="tenant ghost not found"):
        admin.backup_tenant(TenantPaths(tmp_path), "ghost", tmp_path / "out.db")
    assert not (tmp_path / "out.db").exists()
    assert not (tmp_path / "tenants" / "ghost").exists()


async def test_backup_onto_an_existing_file_needs_overwrite(tmp_path: Path) -> None:
    await make_tenant(tmp_path)
    dest = tmp_path / "out.db"
    dest.write_text("keep me")
    with pytest.raises(FileAlreadyExistsError, match="--force"):
        admin.backup_tenant(TenantPaths(tmp_path), TENANT, dest)
    assert dest.read_text() == "keep me"
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, dest, overwrite=True)
    assert integrity(dest) == "ok"


# -- restore -------------------------------------------------------------------


async def test_restore_brings_back_the_backup_with_a_new_epoch(tmp_path: Path) -> None:
    kept = await make_tenant(tmp_path, notes=3)
    path = TenantPaths(tmp_path).db_path(TENANT)
    old_epoch = epoch_of(path)
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db")
    dbs = TenantDatabases(tmp_path)
    async with dbs.use(TENANT) as db:
        await db.write(lambda uow: note(uow, "after the backup"))
    await dbs.close()

    info = admin.restore_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db", replace=True)

    assert info.backup_epoch == old_epoch
    assert info.facts.epoch != old_epoch
    assert epoch_of(path) == info.facts.epoch
    assert note_ids(path) == set(kept)
    assert integrity(path) == "ok"
    assert sorted(p.name for p in path.parent.iterdir()) == ["main.db"]
    # The server opens it as usual and sees the new epoch.
    dbs = TenantDatabases(tmp_path)
    async with dbs.use(TENANT) as db:
        assert db.epoch == info.facts.epoch
        assert await db.read(lambda uow: uow.llm_context.get(kept[0]).title) == "note 0"
    await dbs.close()


async def test_restore_removes_stale_wal_and_shm_left_by_a_crash(tmp_path: Path) -> None:
    await make_tenant(tmp_path, notes=2)
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db")
    path = TenantPaths(tmp_path).db_path(TENANT)
    # A crashed server leaves its -wal (with frames) and -shm behind.
    crashed = sqlite3.connect(path, isolation_level=None)
    crashed.execute("PRAGMA wal_autocheckpoint = 0")
    crashed.execute("INSERT INTO tenant_meta (key, value) VALUES ('crash', 'x')")
    stale = {suffix: sidecar(path, suffix) for suffix in ("-wal", "-shm")}
    copies = {suffix: p.read_bytes() for suffix, p in stale.items()}
    crashed.close()
    for suffix, p in stale.items():
        p.write_bytes(copies[suffix])

    admin.restore_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db", replace=True)

    assert sorted(p.name for p in path.parent.iterdir()) == ["main.db"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM tenant_meta WHERE key = 'crash'").fetchone()[0] == 0
    conn.close()


async def test_restore_is_refused_while_the_tenant_is_open(tmp_path: Path) -> None:
    kept = await make_tenant(tmp_path, notes=1)
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db")
    dbs = TenantDatabases(tmp_path)
    async with dbs.use(TENANT) as db:
        epoch = db.epoch
        newer = await db.write(lambda uow: note(uow, "newer"))
        with pytest.raises(TenantBusyError, match="open in a running pm server"):
            admin.restore_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db", replace=True)
        # Nothing changed, and the open database keeps working.
        assert await db.read(lambda uow: uow.llm_context.get(newer).title) == "newer"
        await db.write(lambda uow: note(uow, "still writable"))
    await dbs.close()
    path = TenantPaths(tmp_path).db_path(TENANT)
    assert epoch_of(path) == epoch
    assert {*kept, newer} <= note_ids(path)
    assert [p.name for p in TenantPaths(tmp_path).root.iterdir()] == [TENANT]


async def test_restore_over_an_existing_tenant_needs_replace(tmp_path: Path) -> None:
    await make_tenant(tmp_path)
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db")
    with pytest.raises(TenantExistsError, match="--yes"):
        admin.restore_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db", replace=False)


async def test_restore_into_a_new_tenant_id_creates_it(tmp_path: Path) -> None:
    kept = await make_tenant(tmp_path)
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "b.db")
    info = admin.restore_tenant(TenantPaths(tmp_path), "copy", tmp_path / "b.db", replace=False)
    assert note_ids(TenantPaths(tmp_path).db_path("copy")) == set(kept)
    assert info.facts.epoch != epoch_of(TenantPaths(tmp_path).db_path(TENANT))
    assert [t.tenant_id for t in admin.list_tenants(TenantPaths(tmp_path))] == [TENANT, "copy"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _scribble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096 + 100, len(data), 4096):  # the middle of every page but the first
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


def _not_pm(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()


def _too_new(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    conn.close()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_truncate, "not a pm tenant database|integrity check"),
        (_scribble, "not a pm tenant database|integrity check"),
        (_not_sqlite, "not a pm tenant database: file is not a database"),
        (_not_pm, "not a pm tenant database"),
        (_too_new, "schema version 999, newer than this pm supports"),
    ],
    ids=["truncated", "scribbled", "not-sqlite", "not-pm", "too-new"],
)
async def test_restore_refuses_a_bad_backup_and_changes_nothing(
    tmp_path: Path, spoil: object, message: str
) -> None:
    kept = await make_tenant(tmp_path, notes=40)
    path = TenantPaths(tmp_path).db_path(TENANT)
    epoch = epoch_of(path)
    backup = tmp_path / "b.db"
    admin.backup_tenant(TenantPaths(tmp_path), TENANT, backup)
    spoil(backup)  # type: ignore[operator]

    with pytest.raises(InvalidFileError, match=message) as caught:
        admin.restore_tenant(TenantPaths(tmp_path), TENANT, backup, replace=True)

    assert "\n" not in caught.value.message
    assert epoch_of(path) == epoch
    assert note_ids(path) == set(kept)
    assert [p.name for p in TenantPaths(tmp_path).root.iterdir()] == [TENANT]
    with pytest.raises(InvalidFileError):
        admin.restore_tenant(TenantPaths(tmp_path), "fresh", backup, replace=False)
    assert not (TenantPaths(tmp_path).root / "fresh").exists()


async def test_restore_from_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NoSuchFileError, match="no such file"):
        admin.restore_tenant(TenantPaths(tmp_path), TENANT, tmp_path / "nope.db", replace=True)


# -- delete --------------------------------------------------------------------


async def test_delete_removes_the_database_its_wal_and_shm_and_the_folder(tmp_path: Path) -> None:
    await make_tenant(tmp_path)
    await make_tenant(tmp_path, "other")
    path = TenantPaths(tmp_path).db_path(TENANT)
    for suffix in ("-wal", "-shm"):
        sidecar(path, suffix).write_bytes(b"")
    admin.delete_tenant(TenantPaths(tmp_path), TENANT)
    assert [p.name for p in TenantPaths(tmp_path).root.iterdir()] == ["other"]
    assert [t.tenant_id for t in admin.list_tenants(TenantPaths(tmp_path))] == ["other"]


async def test_delete_is_refused_while_the_tenant_is_open(tmp_path: Path) -> None:
    kept = await make_tenant(tmp_path)
    dbs = TenantDatabases(tmp_path)
    async with dbs.use(TENANT) as db:
        with pytest.raises(TenantBusyError):
            admin.delete_tenant(TenantPaths(tmp_path), TENANT)
        assert await db.read(lambda uow: uow.llm_context.get(kept[0]).title) == "note 0"
    await dbs.close()
    assert note_ids(TenantPaths(tmp_path).db_path(TENANT)) == set(kept)


async def test_delete_of_a_tenant_whose_file_is_not_a_database_works(tmp_path: Path) -> None:
    path = TenantPaths(tmp_path).db_path(TENANT)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    admin.delete_tenant(TenantPaths(tmp_path), TENANT)
    assert not path.parent.exists()


async def test_delete_of_an_unknown_tenant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TenantNotFoundError):
        admin.delete_tenant(TenantPaths(tmp_path), "ghost")


# -- list ----------------------------------------------------------------------


async def test_list_shows_each_tenant_with_size_schema_and_whether_it_is_open(
    tmp_path: Path,
) -> None:
    await make_tenant(tmp_path, "beta")
    await make_tenant(tmp_path, "alpha")
    root = TenantPaths(tmp_path).root
    (root / ".deleted-x-123").mkdir()  # leftovers and strangers are not tenants
    (root / "Not-A-Tenant").mkdir()
    (root / "empty").mkdir()
    dbs = TenantDatabases(tmp_path)
    async with dbs.use("beta"):
        listed = admin.list_tenants(TenantPaths(tmp_path))
    await dbs.close()
    assert [t.tenant_id for t in listed] == ["alpha", "beta"]
    assert [t.in_use for t in listed] == [False, True]
    for info in listed:
        assert info.facts is not None
        assert info.facts.schema_version == len(load_migrations())
        assert info.size_bytes >= info.path.stat().st_size > 0
        assert info.error is None


async def test_list_reports_an_unreadable_tenant_without_failing(tmp_path: Path) -> None:
    await make_tenant(tmp_path, "good")
    bad = TenantPaths(tmp_path).db_path("bad")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage" * 1000)
    listed = {t.tenant_id: t for t in admin.list_tenants(TenantPaths(tmp_path))}
    assert listed["good"].facts is not None
    assert listed["bad"].facts is None
    assert listed["bad"].error is not None
    assert "not a database" in listed["bad"].error


def test_list_of_a_data_dir_without_tenants_is_empty(tmp_path: Path) -> None:
    assert admin.list_tenants(TenantPaths(tmp_path / "nothing")) == []


# -- tenant ids ----------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["../escape", "Acme", "", "a/b", "acme\n", ".hidden"])
def test_every_operation_checks_the_tenant_id_before_touching_a_file(
    tmp_path: Path, tenant: str
) -> None:
    source = tmp_path / "src.db"
    source.write_bytes(b"")
    calls: list[Callable[[], object]] = [
        lambda: admin.backup_tenant(TenantPaths(tmp_path), tenant, tmp_path / "out.db"),
        lambda: admin.restore_tenant(TenantPaths(tmp_path), tenant, source, replace=True),
        lambda: admin.delete_tenant(TenantPaths(tmp_path), tenant),
    ]
    for call in calls:
        with pytest.raises(InvalidTenantIdError):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.db"]
