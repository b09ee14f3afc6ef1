"""One tenant's SQLite database: a single writer and a small pool of readers.

All mutations of a tenant go through one write connection. Callers hand
:meth:`TenantDatabase.write` a plain function of a :class:`UnitOfWork`; a
writer task takes every queued function, runs them on a worker thread inside
one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (a failure rolls back only itself: see
:func:`_run_batch`), and resolves each caller only after that commit. One
thread hop per batch instead of one per statement, and group commit for free.

Reads run on separate ``query_only`` connections inside a read transaction, so
a snapshot read never waits for the writer (WAL) and sees one consistent state.

Storage that fails under the server (:mod:`pm_db.integrity`): a damaged file
takes the tenant out of service (TenantDamagedError); a file removed or
replaced under it stops the writer before its next commit (TenantLostError),
and what the connection held is saved for the operator.

Checkpoints (copying the WAL back into the database file, with its fsyncs) run
in the background on a read connection every ``checkpoint_every_writes``
writes, so a commit never waits for one; the writer's own automatic
checkpoint stays as a backstop at ``wal_backstop_pages``.

The worker threads belong to executors shared by all tenants (see
:mod:`pm_db.tenants`), so threads stay bounded however many tenants are open;
closing (the final checkpoint) runs on an executor of its own, so an evicted
tenant never holds up the writers of the tenants being served.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar, cast

from pm_core.errors import (
    PmError,
    StorageClosedError,
    TenantDamagedError,
    TenantFencedError,
    TenantLostError,
    UnavailableError,
)
from pm_db import blank, fencing, integrity
from pm_db.codec import utc_now
from pm_db.migrator import Migration, migrate
from pm_db.paths import TenantPaths
from pm_db.repositories.events import EventLogRepository, EventSeq
from pm_db.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Why a tenant's writer stops for good: a damaged or lost file, or another process's fence.
WriterFailure = TenantDamagedError | TenantLostError | TenantFencedError

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """Per-connection settings; the defaults are what ``pm serve`` uses."""

    #: WAL + NORMAL: a committed write survives a crash of the process; the
    #: last commits before a power loss or OS crash may be lost (never corrupted).
    #: FULL also syncs the WAL on every commit (group commit amortises it).
    synchronous: Synchronous = "NORMAL"
    busy_timeout_ms: int = 5_000
    #: Page cache per connection, in KiB (SQLite's default is 2 MiB).
    cache_size_kib: int = 1_024
    read_connections: int = 2
    #: Most mutations committed in one transaction.
    max_batch: int = 256
    #: Writes waiting for the writer beyond which :meth:`TenantDatabase.write`
    #: refuses at once (UnavailableError "tenant busy", retryable) instead of
    #: queueing: memory stays bounded however fast clients send.
    max_queued_writes: int = 1_000
    #: Writes after which a PASSIVE checkpoint runs in the background (off the write path).
    checkpoint_every_writes: int = 100
    #: WAL pages at which the writer checkpoints itself; under steady writes this is what
    #: resets the WAL (the background ones have already copied most of its pages), and a
    #: WAL grown past it is truncated back to it.
    wal_backstop_pages: int = 4_000


_STOP = object()


@dataclass(slots=True)
class _Job:
    fn: Callable[[UnitOfWork], object]
    future: asyncio.Future[object]
    on_commit: Callable[[object], None] | None


class TenantDatabase:
    """The open database of one tenant. Create with :meth:`open`."""

    def __init__(
        self,
        tenant_id: str,
        path: Path,
        writer: sqlite3.Connection,
        epoch: str,
        options: StorageOptions,
        write_executor: Executor,
        read_executor: Executor,
        close_executor: Executor | None = None,
        *,
        last_seq: int = 0,
        identity: integrity.FileIdentity | None = None,
        data_dir: Path | None = None,
        fence: int | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        #: The fencing token this process claimed at open (a cluster; None: no cluster):
        #: checked in every write transaction (:mod:`pm_db.fencing`).
        self.fence = fence
        self.path = path
        self.epoch = epoch
        #: The file the writer opened (device, inode): checked before every commit.
        self._identity = identity
        #: Where a lost tenant's rows are saved (``<data_dir>/rescued/``); None: not saved.
        self._data_dir = data_dir
        #: Why the tenant is out of service (damaged, lost or fenced), once it is.
        self.failure: WriterFailure | None = None
        #: Called on the event loop when the tenant goes out of service.
        self.on_failure: Callable[[TenantDatabase], None] | None = None
        #: Called on the event loop after each commit group: its size and seconds.
        self.on_batch: Callable[[int, float], None] | None = None
        self._writer = writer
        #: The last event seq the writer handed out (read at open: the writer is the only one).
        self._seq = EventSeq(last_seq)
        self._options = options
        self._write_executor = write_executor
        self._read_executor = read_executor
        #: Where the closing checkpoint runs: off the writer threads that serve live tenants.
        self._close_executor = close_executor or write_executor
        self._queue: asyncio.Queue[_Job | object] = asyncio.Queue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_opening = 0
        self._idle_readers: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        self._writes_since_checkpoint = 0
        self._checkpoint_task: asyncio.Task[None] | None = None
        #: Background checkpoints run so far.
        self.checkpoints = 0
        self._writer_task = asyncio.get_running_loop().create_task(
            self._write_loop(), name=f"pm-writer-{tenant_id}"
        )

    @classmethod
    async def open(
        cls,
        paths: TenantPaths,
        tenant_id: str,
        options: StorageOptions,
        migrations: tuple[Migration, ...],
        write_executor: Executor,
        read_executor: Executor,
        close_executor: Executor | None = None,
        *,
        fence: int | None = None,
    ) -> TenantDatabase:
        """Open ``tenant_id``'s database (creating the folder and file if needed) and migrate.

        A file SQLite cannot trust raises TenantDamagedError. With a fencing token, the
        token is claimed (stored) before the last seq is read; one not above the stored
        token raises :class:`pm_db.fencing.StaleFenceError`.
        """
        path = paths.db_path(tenant_id)  # validates the id before any path exists
        loop = asyncio.get_running_loop()
        try:
            writer, epoch, last_seq = await loop.run_in_executor(
                write_executor, _open_writer, paths, tenant_id, options, migrations, fence
            )
        except sqlite3.DatabaseError as exc:
            if integrity.is_damage(exc):
                raise TenantDamagedError(tenant_id) from exc
            if isinstance(exc, sqlite3.OperationalError):  # e.g. the disk is full
                raise _storage_unavailable(tenant_id, exc) from exc
            raise
        except OSError as exc:  # creating a new tenant's file: the disk is full, read-only
            raise _storage_unavailable(tenant_id, exc) from exc
        return cls(
            tenant_id,
            path,
            writer,
            epoch,
            options,
            write_executor,
            read_executor,
            close_executor,
            last_seq=last_seq,
            identity=integrity.file_identity(path),
            data_dir=paths.data_dir,
            fence=fence,
        )

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_writes(self) -> int:
        """Writes waiting for the writer (the group being committed is not counted)."""
        return self._queue.qsize()

    async def write(
        self, fn: Callable[[UnitOfWork], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        """Run ``fn`` in a write transaction; return once it is committed.

        ``fn`` runs on a worker thread and must only touch the database through
        the unit of work it is given. If it raises, its changes (and only its)
        are rolled back and the exception is raised here.

        ``on_commit(result)`` runs on the event loop right after the commit, in
        commit order across all writers of this tenant and before any caller
        resumes: the place to publish events so that subscribers see them in
        ``seq`` order. It must not block; its exceptions are logged.

        When ``max_queued_writes`` writes already wait for the writer, this
        raises UnavailableError ("tenant busy", retryable) and queues nothing.
        """
        self._check_open()
        if self._queue.qsize() >= self._options.max_queued_writes:
            raise UnavailableError(
                f"tenant busy: {self._options.max_queued_writes} writes are already queued; "
                "retry shortly"
            )
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(fn, future, cast(Callable[[object], None] | None, on_commit)))
        return cast(T, await future)

    async def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` against one consistent snapshot on a read connection."""
        self._check_open()
        try:
            return await self._on_reader(lambda conn: _run_read(conn, fn))
        except sqlite3.DatabaseError as exc:
            if integrity.is_damage(exc):
                raise self._fail(TenantDamagedError(self.tenant_id)) from exc
            raise

    async def _on_reader(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``call`` on a read connection in the read pool's thread.

        Cancelling the caller never hands the connection back while the thread
        still uses it: it returns to the pool when the thread is done.
        """
        conn = await self._acquire_reader()
        job = asyncio.get_running_loop().run_in_executor(self._read_executor, call, conn)
        try:
            result = await asyncio.shield(job)
        except asyncio.CancelledError:
            job.add_done_callback(lambda _: self._idle_readers.put_nowait(conn))
            raise
        except BaseException:
            self._idle_readers.put_nowait(conn)
            raise
        self._idle_readers.put_nowait(conn)
        return result

    async def close(self) -> None:
        """Finish queued writes, checkpoint and close. Idempotent and concurrency-safe."""
        if self._close_task is None:
            self._closed = True
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._close_task)

    def _check_open(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self._closed:
            raise StorageClosedError(f"database of tenant {self.tenant_id} is closed")

    def _fail(self, failure: WriterFailure) -> WriterFailure:
        """Take the tenant out of service (once) and return the error that says so."""
        if self.failure is None:
            self.failure = failure
            # Closed at once: nothing to save (damaged), or nothing of ours to save (fenced).
            if isinstance(failure, TenantDamagedError | TenantFencedError):
                self._closed = True
                asyncio.get_running_loop().create_task(self.close())
            if self.on_failure is not None:
                self.on_failure(self)
        return self.failure

    def _still_ours(self) -> None:
        """Raise TenantLostError unless the file at our path is the one the writer opened,
        TenantFencedError when another process has claimed the tenant since we opened it.

        Called inside the write transaction, before COMMIT: ``BEGIN IMMEDIATE`` holds the
        write lock from the start, so checking here is as safe as checking first, and it
        is one statement per commit group."""
        if self._identity is not None and integrity.file_identity(self.path) != self._identity:
            raise TenantLostError(self.tenant_id)
        if self.fence is not None:
            fencing.check(self._writer, self.tenant_id, self.fence)

    async def _acquire_reader(self) -> sqlite3.Connection:
        opened = len(self._readers) + self._readers_opening
        if self._idle_readers.empty() and opened < self._options.read_connections:
            # Count the slot before awaiting, so concurrent callers cannot all open one.
            self._readers_opening += 1
            try:
                conn = await asyncio.get_running_loop().run_in_executor(
                    self._read_executor, _open_reader, self.path, self._options
                )
            finally:
                self._readers_opening -= 1
            self._readers.append(conn)
            return conn
        return await self._idle_readers.get()

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        stop = False
        while not stop:
            batch: list[_Job] = []
            item = await self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, _Job)
                if not item.future.cancelled():
                    batch.append(item)
                if len(batch) >= self._options.max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if not batch:
                continue
            started = time.perf_counter()
            outcomes = await loop.run_in_executor(
                self._write_executor,
                _run_batch,
                self._writer,
                self._seq,
                [job.fn for job in batch],
                self._still_ours,
            )
            self._after_batch(len(batch))
            if self.on_batch is not None:
                self.on_batch(len(batch), time.perf_counter() - started)
            failure = _storage_failure(self.tenant_id, outcomes)
            if failure is not None:  # what committed stays committed; the rest fails with it
                outcomes = [(ok, value if ok else failure) for ok, value in outcomes]
                stop = True
                # Saved (and logged) before any caller hears of it.
                await self._out_of_service(failure)
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if ok and job.on_commit is not None:
                    try:
                        job.on_commit(value)
                    except Exception:
                        log.exception("tenant=%s on_commit hook failed", self.tenant_id)
                if job.future.cancelled():
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    assert isinstance(value, BaseException)
                    job.future.set_exception(value)

    async def _out_of_service(self, failure: WriterFailure) -> None:
        """The writer stops: queued writes fail with ``failure``, and a lost tenant's rows
        are saved (a damaged or fenced one is closed by :meth:`_fail`)."""
        self._fail(failure)
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if isinstance(job, _Job) and not job.future.done():
                job.future.set_exception(failure)
        if isinstance(failure, TenantLostError):
            saved = await self._rescue()
            log.error(
                "tenant=%s database file was removed or replaced under the server: writes "
                "stopped after seq %d; %s",
                self.tenant_id,
                self._seq.last,
                f"what it held is saved in {saved}" if saved else "nothing could be saved",
            )
            # Its connections stay open until the process exits: closing the last one would
            # checkpoint and then delete the -wal and -shm files *by name*, and those names
            # may now belong to the file that replaced it.
            _QUARANTINED.append((self._writer, list(self._readers)))
            self._readers.clear()
            self._closed = True

    async def _rescue(self) -> Path | None:
        if self._data_dir is None:
            return None
        target = integrity.rescue_path(self._data_dir, self.tenant_id, utc_now())
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._write_executor, integrity.rescue, self._writer, target
            )
        except (OSError, sqlite3.Error) as exc:
            log.error("tenant=%s rescue copy failed: %s", self.tenant_id, exc)
            return None
        return target

    def _after_batch(self, writes: int) -> None:
        self._writes_since_checkpoint += writes
        due = self._writes_since_checkpoint >= self._options.checkpoint_every_writes
        if due and self._checkpoint_task is None and not self._closed:
            self._writes_since_checkpoint = 0
            self._checkpoint_task = asyncio.get_running_loop().create_task(
                self._checkpoint(), name=f"pm-checkpoint-{self.tenant_id}"
            )

    async def _checkpoint(self) -> None:
        try:
            await self._on_reader(_passive_checkpoint)
            self.checkpoints += 1
        except Exception as exc:  # the backstop still bounds the WAL
            log.warning("tenant=%s checkpoint failed: %s", self.tenant_id, exc)
        finally:
            self._checkpoint_task = None

    async def _close(self) -> None:
        self._queue.put_nowait(_STOP)
        await self._writer_task
        if isinstance(self.failure, TenantLostError):  # its connections are quarantined
            return
        if self._checkpoint_task is not None:  # only the writer starts them: none after this
            await asyncio.wait({self._checkpoint_task})
        for _ in self._readers:
            await self._idle_readers.get()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._close_executor, _close_connections, self._writer, list(self._readers)
        )
        self._readers.clear()
        log.debug("tenant=%s database closed", self.tenant_id)


def _connect(path: Path, options: StorageOptions) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    conn.row_factory = sqlite3.Row
    # One-time settings go through executescript, which keeps no compiled statement in the
    # connection's cache (each costs memory for as long as the tenant is open).
    conn.executescript(
        f"PRAGMA busy_timeout = {int(options.busy_timeout_ms)};"
        f"PRAGMA cache_size = -{int(options.cache_size_kib)};"
    )
    return conn


def _open_writer(
    paths: TenantPaths,
    tenant_id: str,
    options: StorageOptions,
    migrations: tuple[Migration, ...],
    fence: int | None = None,
) -> tuple[sqlite3.Connection, str, int]:
    path = paths.db_path(tenant_id)
    if not path.exists():  # a new tenant: a copy of the blank database (pm_db.blank)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, as the data dir
        blank.create(paths, tenant_id, migrations)
    conn = _configured_writer(path, options)
    try:
        if migrate(conn, migrations):
            # The connection that ran migrations keeps their statements and the pages they
            # wrote cached (about 700 KiB for a new tenant): the writer starts afresh.
            conn.close()
            conn = _configured_writer(path, options)
        if fence is not None:  # before the last seq is read (pm_db.fencing)
            fencing.claim(conn, tenant_id, fence)
        epoch = conn.execute("SELECT value FROM tenant_meta WHERE key = 'epoch'").fetchone()[0]
        last_seq = EventLogRepository(conn, utc_now()).latest_seq()
    except BaseException:
        conn.close()
        raise
    return conn, str(epoch), last_seq


def _storage_unavailable(tenant_id: str, exc: OSError | sqlite3.OperationalError) -> PmError:
    """A tenant that could not be opened or created for want of storage: retryable, logged
    with its cause (the client's message names no path)."""
    full = (
        exc.errno in _FULL_ERRNOS
        if isinstance(exc, OSError)
        else exc.sqlite_errorcode == sqlite3.SQLITE_FULL
    )
    log.error("tenant=%s could not be opened: %s", tenant_id, exc)
    return UnavailableError(
        "the tenant's storage is full: try again later"
        if full
        else "the tenant's storage could not be opened: try again later"
    )


_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def _configured_writer(path: Path, options: StorageOptions) -> sqlite3.Connection:
    conn = _connect(path, options)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise UnavailableError(f"could not switch {path.name} to WAL (got {mode})")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.executescript(
            f"PRAGMA synchronous = {options.synchronous};"
            "PRAGMA foreign_keys = ON;"
            f"PRAGMA wal_autocheckpoint = {int(options.wal_backstop_pages)};"
            # A WAL a long read let grow past the backstop is cut back to it once reset.
            f"PRAGMA journal_size_limit = {int(options.wal_backstop_pages) * page_size};"
        )
    except BaseException:
        conn.close()
        raise
    return conn


def _open_reader(path: Path, options: StorageOptions) -> sqlite3.Connection:
    conn = _connect(path, options)
    conn.executescript("PRAGMA query_only = ON;")
    return conn


def _passive_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


def _run_read(conn: sqlite3.Connection, fn: Callable[[UnitOfWork], T]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(UnitOfWork(conn, utc_now()))
    finally:
        conn.execute("ROLLBACK")


Outcome = tuple[bool, object]


def _run_batch(
    conn: sqlite3.Connection,
    seq: EventSeq,
    fns: list[Callable[[UnitOfWork], object]],
    before_commit: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Run the functions in order inside one transaction, then commit.

    Returns one (ok, result-or-exception) per function, each as if it had run in a savepoint
    of its own: a failure rolls back only that function. The first pass takes no savepoints
    (each costs two statements, and makes the full-text index write out what it holds as a
    segment of its own); when a function fails there, the transaction is rolled back and the
    batch runs again with a savepoint per function (the functions are plain functions of the
    database, so the second pass sees what the first saw). If the transaction itself fails
    (BEGIN, a savepoint, COMMIT), nothing was committed and every function fails with the
    same retryable error. Whatever is rolled back gives the event seqs it took back, so
    committed seqs stay without gaps. ``before_commit`` may refuse the commit by raising
    TenantLostError or TenantFencedError: then the transaction is rolled back and every
    function fails with it.
    """
    start = seq.last
    try:
        conn.execute("BEGIN IMMEDIATE")
        outcomes = _run_together(conn, seq, fns)
        if not all(ok for ok, _ in outcomes):
            seq.last = start
            conn.execute("ROLLBACK")
            if len(fns) == 1:
                return outcomes
            conn.execute("BEGIN IMMEDIATE")
            outcomes = _run_apart(conn, seq, fns)
        if before_commit is not None:
            before_commit()
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        seq.last = start
        failure = _transaction_failure(conn, exc)
        return [(False, failure) for _ in fns]
    except (TenantLostError, TenantFencedError) as lost:
        seq.last = start
        _roll_back(conn)
        return [(False, lost) for _ in fns]
    return outcomes


def _run_together(
    conn: sqlite3.Connection, seq: EventSeq, fns: list[Callable[[UnitOfWork], object]]
) -> list[Outcome]:
    """The functions with no savepoint, up to the first that fails (the last outcome)."""
    outcomes: list[Outcome] = []
    for fn in fns:
        try:
            outcomes.append((True, fn(UnitOfWork(conn, utc_now(), seq))))
        except Exception as exc:
            outcomes.append((False, exc))
            break
    return outcomes


def _run_apart(
    conn: sqlite3.Connection, seq: EventSeq, fns: list[Callable[[UnitOfWork], object]]
) -> list[Outcome]:
    """Each function in a savepoint of its own: one that fails is rolled back alone."""
    outcomes: list[Outcome] = []
    for fn in fns:
        conn.execute("SAVEPOINT unit_of_work")
        mark = seq.last
        try:
            result = fn(UnitOfWork(conn, utc_now(), seq))
        except Exception as exc:
            seq.last = mark
            conn.execute("ROLLBACK TO unit_of_work")
            conn.execute("RELEASE unit_of_work")
            outcomes.append((False, exc))
        else:
            conn.execute("RELEASE unit_of_work")
            outcomes.append((True, result))
    return outcomes


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _storage_failure(tenant_id: str, outcomes: list[Outcome]) -> WriterFailure | None:
    """The batch met a lost or damaged file, or another process's fence: the tenant must
    go out of service here."""
    for ok, value in outcomes:
        if ok:
            continue
        if isinstance(value, TenantLostError | TenantFencedError):
            return value
        cause = value.__cause__ if isinstance(value, UnavailableError) else value
        if isinstance(cause, BaseException) and integrity.is_damage(cause):
            return TenantDamagedError(tenant_id)
    return None


#: Connections of lost tenants, never closed (see ``_out_of_service``).
_QUARANTINED: list[tuple[sqlite3.Connection, list[sqlite3.Connection]]] = []


def _transaction_failure(conn: sqlite3.Connection, exc: sqlite3.Error) -> PmError:
    """Roll back what is left of a failed transaction; the error every unit in it gets."""
    _roll_back(conn)
    log.warning("write transaction failed: %s", exc.__class__.__name__)
    error = UnavailableError("the write could not be committed; nothing was written")
    error.__cause__ = exc
    return error


def _close_connections(writer: sqlite3.Connection, readers: list[sqlite3.Connection]) -> None:
    for conn in readers:
        conn.close()
    with contextlib.suppress(sqlite3.Error):
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
