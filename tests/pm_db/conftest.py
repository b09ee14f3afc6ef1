"""Storage fixtures: a real, migrated tenant database per test (in ``tmp_path``)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pm_core.models import Project, User
from pm_db.codec import db_time
from pm_db.database import TenantDatabase
from pm_db.migrator import load_migrations, migrate
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork


def open_migrated(path: Path) -> sqlite3.Connection:
    """A connection set up as the tenant writer is: WAL, foreign keys, migrated."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, load_migrations())
    return conn


def soft_delete_user(uow: UnitOfWork, user_id: str) -> None:
    """Mark a live user deleted, as an imported tenant may hold one.

    The server never deletes a user; tests use this to check that reads hide
    such a row and that writes refuse to point at it.
    """
    stamp = db_time(uow.now)
    uow.conn.execute(
        "UPDATE users SET deleted_at = ?, updated_at = ?, version = version + 1"
        " WHERE id = ? AND deleted_at IS NULL",
        (stamp, stamp, user_id),
    )


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_migrated(tmp_path / "main.db")
    yield connection
    connection.close()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def uow(conn: sqlite3.Connection, now: datetime) -> UnitOfWork:
    """Repositories on a real migrated database, statements autocommitted."""
    return UnitOfWork(conn, now)


@pytest.fixture
def user(uow: UnitOfWork) -> User:
    return uow.users.upsert(user_id="u-alice", display_name="Alice", email="alice@example.com")


@pytest.fixture
def project(uow: UnitOfWork, user: User) -> Project:
    return uow.projects.create(key="PM", name="Project Management", created_by=user.id)


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[TenantDatabases]:
    dbs = TenantDatabases(tmp_path, max_open=8)
    yield dbs
    await dbs.close()


@pytest.fixture
async def db(databases: TenantDatabases) -> AsyncIterator[TenantDatabase]:
    async with databases.use("acme") as database:
        yield database
