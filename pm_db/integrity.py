"""Storage that fails under the server: a damaged file, a file removed or replaced.

- **Damaged**: SQLite reports a page or header it cannot trust (``SQLITE_CORRUPT``,
  ``SQLITE_NOTADB``). The tenant goes out of service (TenantDamagedError, not
  retryable) until its file changes, which is what an operator's restore does.
- **Removed or replaced**: the writer compares the file at the tenant's path with
  the one it opened (device and inode) before every commit. A mismatch fails the
  batch, nothing more is written or acknowledged, and what the open connection
  still holds (every acknowledged write, since the connection keeps the unlinked
  file) is copied to ``<data_dir>/rescued/`` for the operator.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Final

#: SQLite's primary result codes for a file it cannot trust.
_DAMAGE_CODES: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

#: Where the rows of a removed or replaced database are saved, under the data dir.
RESCUE_DIR: Final = "rescued"

FileIdentity = tuple[int, int]


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite saying the database file is damaged."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _DAMAGE_CODES


def file_identity(path: Path) -> FileIdentity | None:
    """The (device, inode) of the file at ``path``; None when there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


def rescue_path(data_dir: Path, tenant_id: str, now: datetime) -> Path:
    """A new file name under ``<data_dir>/rescued/`` for what a lost tenant held."""
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    return Path(data_dir) / RESCUE_DIR / f"{tenant_id}-{stamp}.db"


def rescue(conn: sqlite3.Connection, target: Path) -> None:
    """Copy everything ``conn`` sees (its committed state) into a new file ``target``."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
    finally:
        copy.close()


def check(path: Path) -> list[str]:
    """SQLite's integrity check of the database at ``path``: [] when it is sound.

    Opened read-only; a file SQLite cannot open as a database gives one problem.
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems
