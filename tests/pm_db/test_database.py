"""TenantDatabase: one writer with group commit, snapshot reads, close semantics."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from pm_core.enums import WorkItemType
from pm_core.errors import NotFoundError, StorageClosedError, UnavailableError, ValidationError
from pm_db.database import StorageOptions, TenantDatabase, _run_batch
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.repositories.events import EventSeq
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork


def add_user(user_id: str, name: str = "U"):
    def fn(uow: UnitOfWork) -> str:
        return uow.users.upsert(user_id=user_id, display_name=name).id

    return fn


def user_ids(uow: UnitOfWork) -> list[str]:
    return [
        row[0]
        for row in uow.conn.execute("SELECT id FROM users WHERE deleted_at IS NULL ORDER BY id")
    ]


async def test_write_is_durable_when_it_returns(db: TenantDatabase) -> None:
    await db.write(add_user("u1"))
    # A connection of its own, outside pm, sees the committed row.
    conn = sqlite3.connect(db.path)
    try:
        rows = conn.execute("SELECT id FROM users").fetchall()
    finally:
        conn.close()
    assert rows == [("u1",)]


async def test_writer_connection_has_wal_and_foreign_keys(db: TenantDatabase) -> None:
    def pragmas(uow: UnitOfWork) -> tuple[str, int, int]:
        return (
            uow.conn.execute("PRAGMA journal_mode").fetchone()[0],
            uow.conn.execute("PRAGMA foreign_keys").fetchone()[0],
            uow.conn.execute("PRAGMA busy_timeout").fetchone()[0],
        )

    assert await db.write(pragmas) == ("wal", 1, 5000)


async def test_failing_unit_of_work_rolls_back_only_itself_in_a_group(db: TenantDatabase) -> None:
    def fails(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="doomed", display_name="D")
        raise NotFoundError("project", "nope")

    results = await asyncio.gather(
        db.write(add_user("first")),
        db.write(fails),
        db.write(add_user("last")),
        return_exceptions=True,
    )
    assert results[0] == "first"
    assert isinstance(results[1], NotFoundError)
    assert results[2] == "last"
    assert await db.read(user_ids) == ["first", "last"]


async def test_failing_unit_of_work_alone_rolls_back_and_the_next_write_works(
    db: TenantDatabase,
) -> None:
    def fails(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="doomed", display_name="D")
        raise NotFoundError("project", "nope")

    with pytest.raises(NotFoundError):
        await db.write(fails)
    assert await db.write(add_user("after")) == "after"
    assert await db.read(user_ids) == ["after"]


def deferred_fk_db(path: Path) -> sqlite3.Connection:
    """A database where inserting an orphan child passes, and its COMMIT fails."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute(
        "CREATE TABLE child (parent_id INTEGER REFERENCES parent (id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )
    return conn


def insert_orphan(uow: UnitOfWork) -> int:
    uow.conn.execute("INSERT INTO child VALUES (42)")
    return 1


@pytest.mark.parametrize("batch", [1, 3], ids=["alone", "batch"])
def test_a_failed_commit_fails_every_unit_and_leaves_nothing(tmp_path: Path, batch: int) -> None:
    conn = deferred_fk_db(tmp_path / "x.db")
    try:
        outcomes = _run_batch(conn, EventSeq(0), [insert_orphan] * batch)
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    finally:
        conn.close()
    assert [ok for ok, _ in outcomes] == [False] * batch
    errors = [error for _, error in outcomes]
    assert all(isinstance(error, UnavailableError) for error in errors)
    assert all(isinstance(cast(BaseException, e).__cause__, sqlite3.IntegrityError) for e in errors)


def test_batch_of_one_that_cannot_begin_is_unavailable(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("PRAGMA query_only = ON")
    try:
        ((ok, error),) = _run_batch(conn, EventSeq(0), [lambda uow: 1])
        assert not conn.in_transaction
    finally:
        conn.close()
    assert not ok
    assert isinstance(error, UnavailableError)


def test_savepoints_are_taken_only_in_a_batch_where_a_unit_failed(tmp_path: Path) -> None:
    def setup(uow: UnitOfWork) -> str:
        uow.users.upsert(user_id="alice", display_name="Alice")
        return uow.projects.create(key="PM", name="Board", created_by="alice").id

    paths = TenantPaths(tmp_path)
    project_id = create_tenant(paths, "acme", setup)
    runs: list[str] = []

    def create(title: str, *, fail: bool = False) -> Callable[[UnitOfWork], str]:
        def unit(uow: UnitOfWork) -> str:
            runs.append(title)
            uow.work_items.create(
                project_id=project_id, type=WorkItemType.TASK, title=title, created_by="alice"
            )
            if fail:
                raise ValidationError("title", "refused after its row was written")
            return title

        return unit

    conn = sqlite3.connect(paths.db_path("acme"), isolation_level=None)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        clean = _run_batch(conn, EventSeq(0), [create("alpha"), create("beta")])
        assert not [s for s in statements if "SAVEPOINT" in s or "ROLLBACK" in s]
        statements.clear()
        mixed = _run_batch(
            conn, EventSeq(0), [create("gamma"), create("delta", fail=True), create("omega")]
        )
        # The pass with no savepoint stopped at delta and was rolled back whole; the
        # second ran each unit in a savepoint of its own.
        assert runs == ["alpha", "beta", "gamma", "delta", "gamma", "delta", "omega"]
        assert statements.count("SAVEPOINT unit_of_work") == 3
        assert statements.count("ROLLBACK TO unit_of_work") == 1
        titles = {row[0] for row in conn.execute("SELECT title FROM work_items")}
        indexed = {row[0] for row in conn.execute("SELECT title FROM search_index")}
        found = {
            row[0]
            for row in conn.execute(
                "SELECT title FROM search_index WHERE search_index MATCH 'delta OR omega'"
            )
        }
    finally:
        conn.close()
    assert clean == [(True, "alpha"), (True, "beta")]
    assert [ok for ok, _ in mixed] == [True, False, True]
    assert isinstance(mixed[1][1], ValidationError)
    assert titles == indexed == {"alpha", "beta", "gamma", "omega"}
    assert found == {"omega"}


def append_event(fail: bool) -> Callable[[UnitOfWork], int]:
    def unit(uow: UnitOfWork) -> int:
        seq = uow.events.append_encoded(project_id=None, encode=lambda s: b"%d" % s).seq
        if fail:
            raise ValidationError("x", "rolled back after taking a seq")
        return seq

    return unit


@pytest.mark.parametrize("pattern", ["ok fail ok", "fail", "ok fail fail ok ok"])
async def test_rolled_back_units_give_their_seq_back(db: TenantDatabase, pattern: str) -> None:
    units = [append_event(word == "fail") for word in pattern.split()]
    outcomes = await asyncio.gather(*(db.write(unit) for unit in units), return_exceptions=True)
    committed = [seq for seq in outcomes if isinstance(seq, int)]
    later = await db.write(append_event(False))

    stored = await db.read(lambda uow: [event.seq for event in uow.events.after(0)])
    assert stored == [*committed, later] == list(range(1, len(committed) + 2))
    assert [bytes(str(seq), "ascii") for seq in stored] == await db.read(
        lambda uow: [event.payload for event in uow.events.after(0)]
    )


async def test_many_concurrent_writes_all_commit(db: TenantDatabase) -> None:
    await asyncio.gather(*(db.write(add_user(f"u{n:03}")) for n in range(300)))
    assert len(await db.read(user_ids)) == 300


def test_failed_commit_fails_every_unit_in_the_batch(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("PRAGMA query_only = ON")  # every write, and so the batch, must fail
    try:
        outcomes = _run_batch(conn, EventSeq(0), [lambda uow: 1, lambda uow: 2])
    finally:
        conn.close()
    assert [ok for ok, _ in outcomes] == [False, False]
    assert all(isinstance(error, UnavailableError) for _, error in outcomes)


async def test_read_does_not_wait_for_a_running_write_and_sees_a_snapshot(
    db: TenantDatabase,
) -> None:
    await db.write(add_user("before"))
    inside = threading.Event()
    release = threading.Event()

    def slow_write(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="during", display_name="D")
        inside.set()
        release.wait(10)

    writing = asyncio.ensure_future(db.write(slow_write))
    await asyncio.to_thread(inside.wait, 10)
    try:
        seen = await asyncio.wait_for(db.read(user_ids), timeout=5)
    finally:
        release.set()
    await writing
    assert seen == ["before"]
    assert await db.read(user_ids) == ["before", "during"]


async def test_read_connections_cannot_write(db: TenantDatabase) -> None:
    def sneaky(uow: UnitOfWork) -> None:
        uow.users.upsert(user_id="x", display_name="X")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await db.read(sneaky)
    assert await db.read(user_ids) == []


async def test_read_pool_survives_a_cancelled_read(db: TenantDatabase) -> None:
    release = threading.Event()

    def slow_read(uow: UnitOfWork) -> int:
        release.wait(10)
        return 1

    tasks = [asyncio.ensure_future(db.read(slow_read)) for _ in range(2)]
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Both connections come back to the pool once their threads finish.
    results = await asyncio.wait_for(
        asyncio.gather(*(db.read(lambda uow: 7) for _ in range(4))), timeout=5
    )
    assert results == [7, 7, 7, 7]


async def test_close_finishes_queued_writes_first(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    try:
        async with databases.use("acme") as db:
            writes = [asyncio.ensure_future(db.write(add_user(f"u{n}"))) for n in range(20)]
            await asyncio.sleep(0)
            await db.close()
            assert all(w.done() and not w.exception() for w in writes)
            with pytest.raises(StorageClosedError):
                await db.write(add_user("late"))
        async with databases.use("acme") as reopened:
            assert len(await reopened.read(user_ids)) == 20
    finally:
        await databases.close()


async def test_close_is_idempotent_and_concurrency_safe(db: TenantDatabase) -> None:
    await asyncio.gather(db.close(), db.close())
    await db.close()
    assert db.closed


async def test_synchronous_setting_is_applied(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path, options=StorageOptions(synchronous="FULL"))
    try:
        async with databases.use("acme") as db:
            level = await db.write(lambda uow: uow.conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        await databases.close()
    assert level == 2  # FULL


async def test_concurrent_reads_open_no_more_connections_than_allowed(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path, options=StorageOptions(read_connections=2))
    try:
        async with databases.use("acme") as db:
            seqs = await asyncio.gather(
                *(db.read(lambda uow: uow.events.latest_seq()) for _ in range(20))
            )
            opened = len(db._readers)
    finally:
        await databases.close()
    assert seqs == [0] * 20
    assert opened <= 2


async def test_checkpoints_run_in_the_background_and_close_leaves_no_wal(tmp_path: Path) -> None:
    options = StorageOptions(checkpoint_every_writes=10, wal_backstop_pages=4_000)
    dbs = TenantDatabases(tmp_path, options=options)
    written = 0
    async with dbs.use("acme") as db:
        # Every 10 writes start a checkpoint unless one is still running (a loaded machine
        # runs them slowly): write until three have run rather than wait for them.
        while db.checkpoints < 3:
            assert written < 10_000, "no background checkpoint ran"
            await db.write(add_user(f"u{written:05}"))
            written += 1
        backstop, size_limit = await db.write(
            lambda uow: (
                uow.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
                uow.conn.execute("PRAGMA journal_size_limit").fetchone()[0],
            )
        )
        assert (backstop, size_limit) == (4_000, 4_000 * 4_096)
        for n in range(written, written + 15):  # close right after more writes
            await db.write(add_user(f"u{n:05}"))
    await dbs.close()
    # Everything is in the database file once closed, and the WAL is gone.
    conn = sqlite3.connect(tmp_path / "tenants" / "acme" / "main.db")
    try:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == written + 15
    finally:
        conn.close()
    assert not (tmp_path / "tenants" / "acme" / "main.db-wal").exists()


async def test_a_cancelled_checkpoint_returns_its_connection_only_when_its_thread_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()

    def blocking_checkpoint(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    monkeypatch.setattr("pm_db.database._passive_checkpoint", blocking_checkpoint)
    options = StorageOptions(checkpoint_every_writes=1, read_connections=1)
    dbs = TenantDatabases(tmp_path, options=options)
    try:
        async with dbs.use("acme") as db:
            await db.write(add_user("u1"))
            task = db._checkpoint_task
            assert task is not None
            assert await asyncio.to_thread(started.wait, 5)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # The thread still runs on the only read connection: it is not back in the pool.
            assert db._idle_readers.empty()
            release.set()
            assert await asyncio.wait_for(db.read(user_ids), timeout=5) == ["u1"]
    finally:
        release.set()
        await dbs.close()
