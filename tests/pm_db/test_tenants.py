"""TenantDatabases: validated ids, lazy open once, bounded LRU, isolation, close."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from pm_core.errors import InvalidTenantIdError, StorageClosedError, TenantBusyError
from pm_db.database import TenantDatabase
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork

HOSTILE_TENANT_IDS = [
    "../x",
    "..",
    "a/b",
    "a\\b",
    ".hidden",
    "%2e%2e",
    "A",
    "Acme",
    "",
    "a" * 64,
    "tenant-é",
    "ｆｕｌｌwidth",
    "a\x00b",
    "abc\n",
    "-leading-dash",
    "_leading-underscore",
    "a b",
    "/etc",
]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("tenant_id", HOSTILE_TENANT_IDS)
async def test_use_with_hostile_tenant_id_is_refused_and_creates_nothing(
    tmp_path: Path, tenant_id: str
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    before = tree(tmp_path)
    databases = TenantDatabases(data_dir)
    try:
        with pytest.raises(InvalidTenantIdError):
            async with databases.use(tenant_id):
                pass
        with pytest.raises(InvalidTenantIdError):
            databases.paths.db_path(tenant_id)
    finally:
        await databases.close()
    assert tree(tmp_path) == before
    assert databases.open_count == 0


async def test_first_use_creates_tenant_folder_and_database(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    try:
        async with databases.use("acme-1") as db:
            assert db.path == tmp_path.resolve() / "tenants" / "acme-1" / "main.db"
            assert db.path.is_file()
            assert len(db.epoch) == 32
    finally:
        await databases.close()
    assert databases.paths.tenant_ids() == ["acme-1"]


async def test_fifty_concurrent_first_uses_open_the_database_once(
    databases: TenantDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real_open = TenantDatabase.open.__func__  # type: ignore[attr-defined]

    async def counting_open(
        cls: type[TenantDatabase], /, *args: object, **kwargs: object
    ) -> TenantDatabase:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # widen the window in which others arrive
        return await real_open(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(TenantDatabase, "open", classmethod(counting_open))

    async def use_once() -> TenantDatabase:
        async with databases.use("busy") as db:
            await db.write(lambda uow: uow.users.upsert(user_id="u1", display_name="U"))
            return db

    seen = await asyncio.gather(*(use_once() for _ in range(50)))
    assert calls == 1
    assert len({id(db) for db in seen}) == 1
    assert databases.open_count == 1


# 2,000 new databases, each created and migrated: 90-110 s on 2 cores shared with other
# work, close to the default 120 s timeout (which it once overran).
@pytest.mark.timeout(300)
async def test_two_thousand_tenants_in_turn_stay_within_the_cap(tmp_path: Path) -> None:
    cap = 64
    databases = TenantDatabases(tmp_path, max_open=cap, write_threads=2, read_threads=2)
    threads_before = threading.active_count()
    fds_at_cap = 0
    max_fds = 0
    max_threads = 0
    try:
        for n in range(2000):
            async with databases.use(f"t{n}") as db:
                await db.write(lambda uow: uow.users.upsert(user_id="u", display_name="U"))
                await db.read(lambda uow: uow.users.get("u"))
            assert databases.open_count <= cap
            if n == cap:
                fds_at_cap = open_fds()
            max_fds = max(max_fds, open_fds())
            max_threads = max(max_threads, threading.active_count())
    finally:
        await databases.close()
    assert len(databases.paths.tenant_ids()) == 2000
    # File descriptors stay at what `cap` databases need, however many tenants exist, plus
    # the evicted ones still closing in the background (at most max_closing + 1 at once).
    per_tenant = fds_at_cap // cap + 1
    closing = (databases.max_closing + 1) * per_tenant
    assert max_fds <= fds_at_cap + 8 + closing, (fds_at_cap, max_fds, closing)
    assert max_fds < 64 * 8 + 64 + closing
    # Threads: only the shared pools (2 write + 2 read + 1 close), never one per tenant.
    assert max_threads <= threads_before + 5


async def test_eviction_never_closes_a_database_in_use(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path, max_open=1)
    try:
        async with databases.use("held") as held:
            async with databases.use("other"):
                assert not held.closed
            # "held" is still leased: it must still take writes.
            await held.write(lambda uow: uow.users.upsert(user_id="u", display_name="U"))
            assert not held.closed
        async with databases.use("third"):
            pass
        assert databases.open_tenants() == ["third"]
        assert held.closed
    finally:
        await databases.close()


async def test_evicted_tenant_reopens_transparently_with_its_data(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path, max_open=1)
    try:
        async with databases.use("a") as db:
            epoch = db.epoch
            await db.write(lambda uow: uow.users.upsert(user_id="u", display_name="Kept"))
        async with databases.use("b"):
            pass
        assert databases.open_tenants() == ["b"]
        async with databases.use("a") as db:
            user = await db.read(lambda uow: uow.users.get("u"))
            assert db.epoch == epoch
        assert user.display_name == "Kept"
    finally:
        await databases.close()


async def test_eviction_checkpoints_the_wal(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path, max_open=1)
    try:
        async with databases.use("a") as db:
            await db.write(lambda uow: uow.users.upsert(user_id="u", display_name="U"))
            wal = db.path.with_name("main.db-wal")
            assert wal.stat().st_size > 0
        async with databases.use("b"):
            pass
        assert "a" not in databases.open_tenants()  # evicted: it closes in the background
    finally:
        await databases.close()  # waits for that close too
    # Only the eviction closed "a" (close() closes what is still open), and it checkpointed.
    assert not wal.exists() or wal.stat().st_size == 0


async def test_closed_waits_for_an_evicted_database_to_let_go_of_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pm_db import admin, database

    release = threading.Event()
    close_connections = database._close_connections

    def slow_close(*args: object) -> None:
        release.wait(10)
        close_connections(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(database, "_close_connections", slow_close)
    databases = TenantDatabases(tmp_path, max_open=1)
    try:
        async with databases.use("a") as db:
            await db.write(lambda uow: uow.users.upsert(user_id="u", display_name="U"))
        async with databases.use("b"):
            pass
        assert databases.open_tenants() == ["b"]
        with pytest.raises(TenantBusyError), admin.exclusive(db.path, "a"):
            pass  # still closing: it holds its lock
        waiting = asyncio.ensure_future(databases.closed("a"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()
        await asyncio.wait_for(waiting, 10)
        with admin.exclusive(db.path, "a"):  # now free
            pass
        await databases.closed("never-opened")  # nothing to wait for
    finally:
        release.set()
        await databases.close()


async def test_tenants_with_identical_row_ids_never_see_each_other(
    databases: TenantDatabases,
) -> None:
    def seed(name: str):
        def fn(uow: UnitOfWork) -> None:
            uow.users.upsert(user_id="same-user", display_name=name)
            uow.conn.execute(
                "INSERT INTO projects (id, key, name, created_by, created_at, updated_at) "
                "VALUES ('same-id', 'PM', ?, 'same-user', ?, ?)",
                (f"{name} project", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"),
            )

        return fn

    async with databases.use("tenant-a") as a, databases.use("tenant-b") as b:
        await a.write(seed("A"))
        await b.write(seed("B"))
        a_project = await a.read(lambda uow: uow.projects.get("same-id"))
        b_project = await b.read(lambda uow: uow.projects.get("same-id"))
        a_user = await a.read(lambda uow: uow.users.get("same-user"))
        b_projects = await b.read(lambda uow: uow.projects.list())
    assert a_project.name == "A project"
    assert b_project.name == "B project"
    assert a_user.display_name == "A"
    assert [p.name for p in b_projects] == ["B project"]
    assert a.path != b.path


async def test_use_after_close_raises_a_clear_error(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    async with databases.use("acme") as db:
        pass
    await databases.close()
    await databases.close()  # idempotent
    assert db.closed
    with pytest.raises(StorageClosedError, match="closed"):
        async with databases.use("acme"):
            pass
    with pytest.raises(StorageClosedError, match="closed"):
        await db.read(lambda uow: uow.users.find("u1"))


async def test_close_while_opening_closes_the_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    databases = TenantDatabases(tmp_path)
    release = asyncio.Event()
    real_open = TenantDatabase.open.__func__  # type: ignore[attr-defined]
    opened: list[TenantDatabase] = []

    async def slow_open(
        cls: type[TenantDatabase], /, *args: object, **kwargs: object
    ) -> TenantDatabase:
        await release.wait()
        db = await real_open(cls, *args, **kwargs)
        opened.append(db)
        return db  # type: ignore[no-any-return]

    monkeypatch.setattr(TenantDatabase, "open", classmethod(slow_open))

    async def use() -> None:
        async with databases.use("late"):
            pass

    user = asyncio.ensure_future(use())
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(databases.close())
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(StorageClosedError):
        await user
    await closing
    assert opened
    assert opened[0].closed
