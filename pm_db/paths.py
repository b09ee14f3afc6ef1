"""Where tenants live in the data dir, and the one way to open a tenant file briefly.

A tenant's database is ``<data_dir>/tenants/<tenant_id>/main.db``, with
SQLite's ``-wal``, ``-shm`` or ``-journal`` next to it. :class:`TenantPaths`
builds every such path, and only after the id passed
:func:`pm_core.tenancy.check_tenant_id`: the server's open tenants
(:mod:`pm_db.tenants`), the administration of the files (:mod:`pm_db.admin`,
:mod:`pm_db.export`) and ``pm tenant`` all go through it.

Scratch files (a restore's staging copy, an import being built, a deleted
tenant's folder on its way out) are named with a leading dot in the tenants
folder: never a valid tenant id, so never listed as a tenant.

:func:`connect` opens the short-lived connections of the administration;
the server's long-lived ones are :mod:`pm_db.database`'s.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pm_core.errors import TenantExistsError
from pm_core.tenancy import check_tenant_id, is_valid_tenant_id

TENANTS_DIR: Final = "tenants"
DB_FILE_NAME: Final = "main.db"
#: Files SQLite keeps next to a database.
SIDECARS: Final = ("-wal", "-shm", "-journal")
DEFAULT_BUSY_TIMEOUT_MS: Final = 5_000


@dataclass(frozen=True, slots=True)
class TenantPaths:
    """The tenant files under one data dir. Building a path creates nothing."""

    data_dir: Path
    #: ``<data_dir>/tenants``, resolved once so every path below it is absolute.
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.data_dir).resolve() / TENANTS_DIR)

    def tenant_dir(self, tenant_id: str) -> Path:
        """The tenant's folder; the id is validated first and the path checked to stay inside."""
        check_tenant_id(tenant_id)
        path = self.root / tenant_id
        # Defence in depth: the rule already excludes separators and dots.
        if path.parent != self.root:
            raise AssertionError("tenant path escaped the data dir")
        return path

    def db_path(self, tenant_id: str) -> Path:
        return self.tenant_dir(tenant_id) / DB_FILE_NAME

    def has_database(self, tenant_id: str) -> bool:
        """True when the tenant has a database on disk."""
        return self.db_path(tenant_id).is_file()

    def tenant_ids(self) -> list[str]:
        """Tenants that have a database on disk, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if is_valid_tenant_id(entry.name) and (entry / DB_FILE_NAME).is_file()
        )

    def scratch(self, purpose: str, tenant_id: str) -> Path:
        """A fresh private name in the tenants folder, out of the tenant list (leading dot)."""
        check_tenant_id(tenant_id)
        return self.root / f".{purpose}-{tenant_id}-{secrets.token_hex(6)}"


def sidecar(path: Path, suffix: str) -> Path:
    """The file SQLite keeps next to ``path`` with ``suffix`` (one of :data:`SIDECARS`)."""
    return path.with_name(path.name + suffix)


def connect(
    path: Path, *, create: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """A short-lived autocommit connection to ``path``, for administration.

    The file is never created unless ``create`` is True, so a mistyped or
    deleted tenant is not brought back as an empty database.
    """
    mode = "rwc" if create else "rw"
    return sqlite3.connect(
        f"{path.as_uri()}?mode={mode}",
        uri=True,
        isolation_level=None,
        timeout=busy_timeout_ms / 1000,
        check_same_thread=False,
    )


# -- files ---------------------------------------------------------------------


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def remove_with_sidecars(path: Path) -> None:
    remove(path)
    for suffix in SIDECARS:
        remove(sidecar(path, suffix))


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fsync(path)


def publish_new(staging: Path, path: Path, tenant_id: str, meanwhile: str) -> None:
    """Make the complete database ``staging`` the new tenant's ``path``, durably.

    A hard link appears whole or not at all, and fails if the tenant appeared since
    the caller checked: TenantExistsError saying ``meanwhile``. The staging name is
    the caller's to remove.
    """
    fsync(staging)
    created = not path.parent.exists()
    path.parent.mkdir(exist_ok=True)
    try:
        os.link(staging, path)
        fsync_dir(path.parent)
    except FileExistsError:
        raise TenantExistsError(tenant_id, meanwhile) from None
    except BaseException:
        if created:
            path.parent.rmdir()
        raise
