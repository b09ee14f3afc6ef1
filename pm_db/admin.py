"""Tenant administration on the data dir: list, online backup, restore, delete.

These functions work on the files a :class:`~pm_db.paths.TenantPaths` names,
with the short-lived connections of :func:`pm_db.paths.connect`, so they can
run in another process than the server (``pm tenant ...``). What they
guarantee while a server runs:

- **Backup** is online: SQLite's backup API copies one consistent snapshot (a
  single read transaction; in WAL mode the server keeps writing meanwhile).
  Every write committed before the backup started is in it. The copy is
  written next to the destination, checked, then renamed into place.
- **Restore and delete** need the tenant to themselves. They take SQLite's
  exclusive lock on the tenant database (``locking_mode=EXCLUSIVE``); a server
  that holds the tenant open holds a shared lock, so the attempt fails at once
  and the operation is refused with :class:`TenantBusyError`, changing
  nothing. While the lock is held no other connection can open the database,
  so stale ``-wal``/``-shm`` files can be removed safely.
- **Restore** gives the tenant a new epoch, so clients resuming from a
  position taken before the restore get ``must_refetch``.

Tenant ids are checked (by :class:`~pm_db.paths.TenantPaths`) before any path
is built.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pm_core.errors import (
    FileAlreadyExistsError,
    InvalidFileError,
    NoSuchFileError,
    TenantBusyError,
    TenantExistsError,
    TenantNotFoundError,
)
from pm_db.codec import utc_now
from pm_db.migrator import current_version, load_migrations, migrate
from pm_db.paths import (
    DEFAULT_BUSY_TIMEOUT_MS,
    TenantPaths,
    connect,
    fsync,
    fsync_dir,
    remove,
    remove_with_sidecars,
    sidecar,
)
from pm_db.repositories.events import EventLogRepository
from pm_db.repositories.meta import TenantMetaRepository

_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6


# -- the exclusive lock ------------------------------------------------------


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (_SQLITE_BUSY, _SQLITE_LOCKED)


@contextlib.contextmanager
def exclusive(path: Path, tenant_id: str, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's exclusive lock on ``path`` for the block; refuse at once if it is in use.

    In ``locking_mode=EXCLUSIVE`` the lock, once taken, is kept until the
    connection closes, so no other connection (of this or any process) can
    read or write the database meanwhile.
    """
    conn = connect(path, create=create, busy_timeout_ms=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise TenantBusyError(tenant_id) from exc
            raise
        conn.execute("ROLLBACK")
        yield conn
    finally:
        conn.close()


def in_use(path: Path, tenant_id: str) -> bool:
    """True when another connection holds the database open (a server, a backup...)."""
    try:
        with exclusive(path, tenant_id):
            return False
    except TenantBusyError:
        return True


# -- inspection ----------------------------------------------------------------


@contextlib.contextmanager
def snapshot(path: Path, busy_timeout_ms: int) -> Iterator[sqlite3.Connection]:
    """A read-only connection inside one read transaction: one consistent state of ``path``.

    In WAL mode a server keeps writing meanwhile; it is never blocked by this.
    """
    conn = connect(path, busy_timeout_ms=busy_timeout_ms)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("BEGIN")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """What a tenant database says about itself."""

    schema_version: int
    epoch: str
    seq: int


def read_facts(conn: sqlite3.Connection) -> TenantFacts:
    """Schema version, epoch and the last event seq; raises sqlite3 errors as they come."""
    version = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    meta = TenantMetaRepository(conn)
    seq = EventLogRepository(conn, utc_now()).latest_seq()
    return TenantFacts(schema_version=int(version[0]), epoch=meta.epoch(), seq=seq)


def check_database(conn: sqlite3.Connection, label: str) -> TenantFacts:
    """Refuse (InvalidFileError) anything but a sound pm tenant database this code can serve."""
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise InvalidFileError(f"{label} fails SQLite's integrity check: {_first(problems)}")
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise InvalidFileError(f"{label} has rows whose references are broken")
        facts = read_facts(conn)
    except sqlite3.DatabaseError as exc:
        raise InvalidFileError(f"{label} is not a pm tenant database: {exc}") from exc
    except LookupError as exc:
        raise InvalidFileError(f"{label} is not a pm tenant database: it has no epoch") from exc
    newest = len(load_migrations())
    if facts.schema_version > newest:
        raise InvalidFileError(
            f"{label} has schema version {facts.schema_version}, newer than this pm "
            f"supports ({newest}); upgrade pm first"
        )
    if facts.schema_version < 1:
        raise InvalidFileError(f"{label} is not a pm tenant database: no schema recorded")
    return facts


def _first(problems: list[str]) -> str:
    """The first concrete problem of an integrity report (reports span several lines)."""
    lines = [line.strip() for text in problems for line in text.splitlines()]
    return next((line for line in lines if line and not line.startswith("***")), "unknown")


# -- list ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantInfo:
    tenant_id: str
    path: Path
    #: main.db plus its -wal file.
    size_bytes: int
    #: None when the database could not be read (``error`` says why).
    facts: TenantFacts | None
    in_use: bool
    error: str | None = None


def list_tenants(
    paths: TenantPaths, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> list[TenantInfo]:
    """Every tenant with a database on disk, sorted by id."""
    return [
        _describe(tenant_id, paths.db_path(tenant_id), busy_timeout_ms)
        for tenant_id in paths.tenant_ids()
    ]


def _describe(tenant_id: str, path: Path, busy_timeout_ms: int) -> TenantInfo:
    size = sum(_size(p) for p in (path, sidecar(path, "-wal")))
    facts: TenantFacts | None = None
    error: str | None = None
    try:
        with snapshot(path, busy_timeout_ms) as conn:
            facts = read_facts(conn)
    except (sqlite3.Error, LookupError) as exc:
        error = f"unreadable: {exc}"
    busy = error is None and in_use(path, tenant_id)
    return TenantInfo(tenant_id, path, size, facts, busy, error)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


# -- backup --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupInfo:
    tenant_id: str
    path: Path
    size_bytes: int
    facts: TenantFacts


def backup_tenant(
    paths: TenantPaths,
    tenant_id: str,
    dest: Path,
    *,
    overwrite: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> BackupInfo:
    """Copy one consistent snapshot of the tenant into the single file ``dest``.

    Safe while a server writes to the tenant (in this or another process).
    The result is a self-contained SQLite file in rollback-journal mode,
    integrity-checked before it is renamed into place.
    """
    path = paths.db_path(tenant_id)
    if not path.is_file():
        raise TenantNotFoundError(tenant_id)
    dest = Path(dest).absolute()
    if dest.exists() and not overwrite:
        raise FileAlreadyExistsError(dest)
    if not dest.parent.is_dir():
        raise NoSuchFileError(dest.parent)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    try:
        src = connect(path, busy_timeout_ms=busy_timeout_ms)
        try:
            src.execute("PRAGMA query_only = ON")
            out = connect(tmp, create=True)
            try:
                out.execute("PRAGMA synchronous = OFF")  # one fsync once it is complete
                # pages=-1: one step, so the whole copy comes from one read snapshot.
                src.backup(out, pages=-1)
                out.execute("PRAGMA journal_mode = DELETE")
                facts = check_database(out, f"the backup of tenant {tenant_id}")
            finally:
                out.close()
        finally:
            src.close()
        fsync(tmp)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        remove_with_sidecars(tmp)
    return BackupInfo(tenant_id, dest, dest.stat().st_size, facts)


# -- restore -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    tenant_id: str
    source: Path
    #: The facts of the restored database; ``facts.epoch`` is the new epoch.
    facts: TenantFacts
    #: The epoch recorded in the backup (no longer valid for resuming).
    backup_epoch: str


def restore_tenant(
    paths: TenantPaths, tenant_id: str, source: Path, *, replace: bool
) -> RestoreInfo:
    """Replace the tenant's database with the backup ``source``; the tenant gets a new epoch.

    The backup is copied to a private staging file and checked there
    (integrity check, foreign keys, a pm schema this code supports) before the
    tenant is touched. The tenant is then written under SQLite's exclusive
    lock: refused with :class:`TenantBusyError` while a server holds it open.
    A tenant that does not exist yet is created (restore into a new id).
    ``replace`` must be True to overwrite an existing tenant.
    """
    path = paths.db_path(tenant_id)
    source = Path(source).absolute()
    if not source.is_file():
        raise NoSuchFileError(source)
    existed = path.is_file()
    if existed and not replace:
        raise TenantExistsError(tenant_id, "pass --yes to replace it with the backup")
    if existed and in_use(path, tenant_id):  # fail fast, before copying anything
        raise TenantBusyError(tenant_id)
    paths.root.mkdir(parents=True, exist_ok=True)
    staging = paths.scratch("restore", tenant_id)
    try:
        shutil.copyfile(source, staging)
        stage = connect(staging)
        try:
            backup_facts = _prepare_staging(stage, source)
            path.parent.mkdir(exist_ok=True)
            with exclusive(path, tenant_id, create=True) as conn:
                # Leaving WAL checkpoints and deletes the -wal under our lock; any
                # -shm left is stale (nobody else can have the database open).
                conn.execute("PRAGMA journal_mode = DELETE")
                remove(sidecar(path, "-shm"))
                stage.backup(conn, pages=-1)
                facts = read_facts(conn)
                conn.execute("PRAGMA journal_mode = WAL")
        finally:
            stage.close()
    except BaseException:
        if not existed:
            _remove_empty_tenant(path)
        raise
    finally:
        remove_with_sidecars(staging)
    return RestoreInfo(tenant_id, source, facts, backup_facts.epoch)


def _prepare_staging(stage: sqlite3.Connection, source: Path) -> TenantFacts:
    """Check the staged copy and give it a new epoch; returns the backup's own facts."""
    try:
        stage.execute("PRAGMA synchronous = OFF")  # a private copy, read back from here
        stage.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.DatabaseError as exc:
        raise InvalidFileError(f"{source} is not a pm tenant database: {exc}") from exc
    facts = check_database(stage, str(source))
    stage.execute("BEGIN IMMEDIATE")
    TenantMetaRepository(stage).new_epoch()
    stage.execute("COMMIT")
    return facts


def _remove_empty_tenant(path: Path) -> None:
    """Undo the creation of a tenant whose restore failed (only files nobody else uses)."""
    with contextlib.suppress(OSError, sqlite3.Error, TenantBusyError):
        if path.is_file() and not in_use(path, path.parent.name):
            remove_with_sidecars(path)
            path.parent.rmdir()


# -- migrate -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Migrated:
    tenant_id: str
    #: Schema versions before and after.
    before: int
    after: int


def migrate_tenant(paths: TenantPaths, tenant_id: str) -> Migrated:
    """Apply the pending migrations of one tenant ahead of its next open.

    Under the exclusive lock, so refused with TenantBusyError while a server has the
    tenant open (that server migrated it when it opened it).
    """
    path = paths.db_path(tenant_id)
    if not path.is_file():
        raise TenantNotFoundError(tenant_id)
    with exclusive(path, tenant_id) as conn:
        before = current_version(conn)
        migrate(conn, load_migrations())
        return Migrated(tenant_id, before, current_version(conn))


# -- delete --------------------------------------------------------------------


def delete_tenant(paths: TenantPaths, tenant_id: str) -> None:
    """Remove the tenant's database, its -wal/-shm and its folder.

    Refused with :class:`TenantBusyError` while a server holds it open. Under
    the exclusive lock the WAL is folded away and the folder is renamed out of
    the tenant namespace in one step, so a server opening the tenant at that
    moment finds either the whole old database (and waits for the lock) or no
    tenant at all; the renamed folder is then removed.
    """
    directory = paths.tenant_dir(tenant_id)
    if not directory.is_dir():
        raise TenantNotFoundError(tenant_id)
    path = paths.db_path(tenant_id)
    trash = paths.scratch("deleted", tenant_id)
    if path.is_file():
        try:
            with exclusive(path, tenant_id) as conn:
                # MEMORY: checkpoint and delete the -wal now, under the lock, and
                # never create a journal file that closing could delete by name.
                conn.execute("PRAGMA journal_mode = MEMORY")
                remove(sidecar(path, "-shm"))
                directory.rename(trash)
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):
                raise TenantBusyError(tenant_id) from exc
            # Not a database at all: nothing can be serving it.
            directory.rename(trash)
    else:
        directory.rename(trash)
    shutil.rmtree(trash)
