"""The set of tenant databases: lazy open, a bounded LRU.

``TenantDatabases.use(tenant_id)`` is the only way to reach a tenant's
database. It validates the id before any path is built (paths come from
:class:`pm_db.paths.TenantPaths`, shared with the administration), opens the database
on first use (concurrent first uses share one open), and holds a lease while
the caller works, so eviction never closes a database with work in flight.

At most ``max_open`` databases are open. Opening one more first closes the
least recently used idle one (checkpointing it, in the background: the open
does not wait for it unless ``max_closing`` closes are already under way). If every open database is
busy, the open goes ahead and the set shrinks back as leases end: the cap
is exceeded only by the number of tenants with work in flight at the same
moment beyond it. Worker threads come from two executors shared by all
tenants, so threads stay bounded however many tenants exist.

A tenant whose file is damaged stays out of service (TenantDamagedError at
once, logged once) until its file changes, as a restore changes it; one whose
file was removed or replaced is forgotten, so its next use opens what is at the
path now. ``on_failure`` hears of both (the server closes their connections).

A tenant an operator is restoring or deleting (its maintenance marker, see
:mod:`pm_db.maintenance`) is refused (TenantMaintenanceError) until the marker
is gone; :meth:`TenantDatabases.release_marked` lets go of the open ones.

In a cluster (``fences``, :mod:`pm_db.fencing`) a tenant is opened only with a
fencing token of the process's own (its owner's lease); a token Redis handed out
below the stored one (Redis lost its counters) is traded for a higher one once.
Whenever a tenant's database closes, ``fences`` hears it (the lease can go).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from pm_core.errors import (
    StorageClosedError,
    TenantDamagedError,
    TenantGoneError,
    TenantMaintenanceError,
)
from pm_core.tenancy import check_tenant_id
from pm_db import integrity, maintenance
from pm_db.database import StorageOptions, TenantDatabase
from pm_db.fencing import FenceSource, StaleFenceError
from pm_db.migrator import Migration, load_migrations
from pm_db.paths import TenantPaths

log = logging.getLogger(__name__)


class TenantDatabases:
    def __init__(
        self,
        data_dir: Path,
        *,
        max_open: int = 256,
        options: StorageOptions | None = None,
        migrations: tuple[Migration, ...] | None = None,
        write_threads: int = 2,
        read_threads: int = 4,
        fences: FenceSource | None = None,
    ) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.paths = TenantPaths(data_dir)
        self.max_open = max_open
        #: Evicted tenants closing in the background before an open waits for one of them.
        self.max_closing = max(4, max_open // 16)
        self._options = options or StorageOptions()
        self._migrations = load_migrations() if migrations is None else migrations
        #: The cluster's ownership (None: one process, no fencing).
        self.fences = fences
        self._write_executor = ThreadPoolExecutor(write_threads, thread_name_prefix="pm-db-write")
        self._read_executor = ThreadPoolExecutor(read_threads, thread_name_prefix="pm-db-read")
        self._close_executor = ThreadPoolExecutor(1, thread_name_prefix="pm-db-close")
        self._open: OrderedDict[str, TenantDatabase] = OrderedDict()
        self._opening: dict[str, asyncio.Future[TenantDatabase]] = {}
        self._closing: dict[str, asyncio.Future[None]] = {}
        self._leases: dict[str, int] = {}
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        #: Damaged tenants and the file (device, inode) found damaged.
        self._damaged: dict[str, integrity.FileIdentity | None] = {}
        self._releasing: set[asyncio.Future[None]] = set()
        #: Set when the tenant's last lease ends, for a release waiting on it.
        self._idle_waiters: dict[str, asyncio.Event] = {}
        #: Tenants refused while their maintenance marker exists.
        self._maintenance: set[str] = set()
        #: Told (on the event loop) when an open tenant goes out of service: damaged or lost.
        self.on_failure: Callable[[TenantDatabase], object] | None = None
        #: Told of every commit group of every tenant: its size and seconds (for metrics).
        self.on_batch: Callable[[int, float], None] | None = None

    # -- use ---------------------------------------------------------------

    @property
    def open_count(self) -> int:
        return len(self._open)

    def open_tenants(self) -> list[str]:
        """Open tenants, least recently used first."""
        return list(self._open)

    async def closed(self, tenant_id: str) -> None:
        """Return once ``tenant_id`` is not being closed: an evicted database closes in
        the background, and holds its file until its checkpoint is done."""
        task = self._closing.get(tenant_id)
        if task is not None:
            await asyncio.wait({task})

    def open_databases(self) -> list[TenantDatabase]:
        """The open databases, least recently used first (for metrics)."""
        return list(self._open.values())

    def counts_by_state(self) -> dict[str, int]:
        """Tenants open, being opened, being closed, released for maintenance, and out of
        service (damaged)."""
        return {
            "open": len(self._open),
            "opening": len(self._opening),
            "closing": len(self._closing),
            "maintenance": len(self._maintenance),
            "out_of_service": len(self._damaged),
        }

    @asynccontextmanager
    async def use(self, tenant_id: str, *, create: bool = True) -> AsyncIterator[TenantDatabase]:
        """Hold ``tenant_id``'s database open for the duration of the block.

        With ``create=False`` a tenant whose database is not on disk is not
        created but refused with TenantGoneError (it was deleted).
        """
        self._check_open()
        check_tenant_id(tenant_id)
        self._leases[tenant_id] = self._leases.get(tenant_id, 0) + 1
        try:
            db = await self._get(tenant_id, create)
            yield db
        finally:
            remaining = self._leases[tenant_id] - 1
            if remaining:
                self._leases[tenant_id] = remaining
            else:
                del self._leases[tenant_id]
                waiter = self._idle_waiters.pop(tenant_id, None)
                if waiter is not None:
                    waiter.set()

    def holds(self, tenant_id: str) -> bool:
        """True while the tenant is open or being opened here."""
        return tenant_id in self._open or tenant_id in self._opening

    def release(self, tenant_id: str) -> None:
        """Close the tenant now if it is open (in the background: queued writes finish
        first, later ones are refused with a retryable error); it reopens on next use."""
        if tenant_id in self._open:
            self._evict(tenant_id)

    def exists(self, tenant_id: str) -> bool:
        """True when the tenant has a database on disk."""
        return self.paths.has_database(tenant_id)

    async def _get(self, tenant_id: str, create: bool = True) -> TenantDatabase:
        if tenant_id in self._damaged:
            if integrity.file_identity(self.paths.db_path(tenant_id)) == self._damaged[tenant_id]:
                raise TenantDamagedError(tenant_id)
            del self._damaged[tenant_id]  # the file changed (restored): try it again
        if tenant_id in self._maintenance:
            if maintenance.under_maintenance(self.paths, tenant_id):
                raise TenantMaintenanceError(tenant_id)
            self._maintenance.discard(tenant_id)
        db = self._open.get(tenant_id)
        if db is not None and db.closed:  # closed behind our back: forget it, reopen
            del self._open[tenant_id]
            db = None
        if db is not None:
            self._open.move_to_end(tenant_id)
            return db
        if maintenance.under_maintenance(self.paths, tenant_id):  # one stat, at open only
            self._maintenance.add(tenant_id)
            raise TenantMaintenanceError(tenant_id)
        if not create and not self.exists(tenant_id):
            raise TenantGoneError(tenant_id)
        pending = self._opening.get(tenant_id)
        if pending is None:
            pending = asyncio.ensure_future(self._open_tenant(tenant_id))
            self._opening[tenant_id] = pending
            pending.add_done_callback(lambda _: self._opening.pop(tenant_id, None))
        return await asyncio.shield(pending)

    async def _open_tenant(self, tenant_id: str) -> TenantDatabase:
        closing = self._closing.get(tenant_id)
        if closing is not None:
            await asyncio.shield(closing)
        await self._make_room()
        try:
            db = await self._open_fenced(tenant_id)
        except TenantDamagedError as exc:
            self._mark_damaged(tenant_id, exc)
            raise
        db.on_failure = self._failed
        db.on_batch = self.on_batch
        if self._closed:
            await db.close()
            self._closed_db(db)
            raise StorageClosedError("tenant databases are closed")
        self._open[tenant_id] = db
        log.debug("tenant=%s database opened (%d open)", tenant_id, len(self._open))
        return db

    async def _open_fenced(self, tenant_id: str) -> TenantDatabase:
        fence = None if self.fences is None else await self.fences.acquire(tenant_id, 0)
        for attempt in (1, 2):
            try:
                return await TenantDatabase.open(
                    self.paths,
                    tenant_id,
                    self._options,
                    self._migrations,
                    self._write_executor,
                    self._read_executor,
                    self._close_executor,
                    fence=fence,
                )
            except StaleFenceError as stale:
                assert self.fences is not None
                if attempt == 2:
                    raise
                log.warning(
                    "tenant=%s fencing token %d is below the stored %d (Redis lost its "
                    "counters?): asking for a higher one",
                    tenant_id,
                    stale.token,
                    stale.stored,
                )
                fence = await self.fences.acquire(tenant_id, stale.stored)
        raise AssertionError("unreachable")

    def _closed_db(self, db: TenantDatabase) -> None:
        if self.fences is not None and db.fence is not None:
            self.fences.released(db.tenant_id, db.fence)

    def release_marked(self) -> list[str]:
        """Let go of every open tenant whose maintenance marker exists (one ``stat`` each).

        From now on they are refused; each is closed once its work in flight is done
        (in the background). Returns the tenants released.
        """
        marked = [
            tenant_id
            for tenant_id in self._open
            if tenant_id not in self._maintenance
            and maintenance.under_maintenance(self.paths, tenant_id)
        ]
        for tenant_id in marked:
            self._maintenance.add(tenant_id)
            task = asyncio.ensure_future(self._release(tenant_id))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)
        return marked

    async def _release(self, tenant_id: str) -> None:
        while self._leases.get(tenant_id):  # commands in flight finish first
            await self._idle_waiters.setdefault(tenant_id, asyncio.Event()).wait()
        if tenant_id in self._open:
            self._evict(tenant_id)
            await asyncio.shield(self._closing[tenant_id])
        log.info("tenant=%s released for maintenance", tenant_id)

    def _mark_damaged(self, tenant_id: str, exc: TenantDamagedError) -> None:
        """Out of service until the file changes; one log line, not one per attempt."""
        self._damaged[tenant_id] = integrity.file_identity(self.paths.db_path(tenant_id))
        log.error(
            "tenant=%s database is damaged (%s): out of service until its file is restored; "
            "run `pm tenant check %s`",
            tenant_id,
            exc.__cause__ or "failed a check",
            tenant_id,
        )

    def _failed(self, db: TenantDatabase) -> None:
        """An open tenant went out of service: forget it (it closes itself)."""
        if self._open.get(db.tenant_id) is db:
            del self._open[db.tenant_id]
        self._closed_db(db)
        if isinstance(db.failure, TenantDamagedError):
            self._mark_damaged(db.tenant_id, db.failure)
        if self.on_failure is not None:
            self.on_failure(db)

    async def _make_room(self) -> None:
        """Close least recently used idle tenants until the cap holds.

        The open goes ahead while they close (their checkpoint runs on the close
        executor); only when ``max_closing`` closes are already under way does it
        wait for them, so descriptors and memory stay bounded under churn.
        """
        while len(self._open) + len(self._opening) > self.max_open:
            victim = next((t for t in self._open if t not in self._leases), None)
            if victim is None:
                break
            self._evict(victim)
        if len(self._closing) > self.max_closing:
            await asyncio.wait(set(self._closing.values()), return_when=asyncio.FIRST_COMPLETED)

    def _evict(self, tenant_id: str) -> None:
        db = self._open.pop(tenant_id)
        task = asyncio.ensure_future(db.close())
        self._closing[tenant_id] = task

        def forget(_: object) -> None:
            if self._closing.get(tenant_id) is task:
                del self._closing[tenant_id]
            self._closed_db(db)
            if not task.cancelled() and task.exception() is not None:
                log.warning("tenant=%s close failed: %r", tenant_id, task.exception())

        task.add_done_callback(forget)

    # -- close -------------------------------------------------------------

    async def close(self) -> None:
        """Close every open database and the worker threads. Idempotent."""
        if self._close_task is None:
            self._closed = True
            self._close_task = asyncio.ensure_future(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        await asyncio.gather(*self._releasing, return_exceptions=True)
        await asyncio.gather(*self._opening.values(), return_exceptions=True)
        await asyncio.gather(*self._closing.values(), return_exceptions=True)
        databases = list(self._open.values())
        self._open.clear()
        await asyncio.gather(*(db.close() for db in databases))
        for db in databases:
            self._closed_db(db)
        self._write_executor.shutdown(wait=True)
        self._read_executor.shutdown(wait=True)
        self._close_executor.shutdown(wait=True)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosedError("tenant databases are closed")
