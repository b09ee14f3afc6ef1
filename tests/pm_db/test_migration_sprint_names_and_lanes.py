"""The migration that makes sprint names and lane statuses unique in a project, run over a
tenant that already holds duplicates (what docs/storage.md says it does with them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pm_db.migrator import load_migrations, migrate

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
T2 = "2026-01-03T00:00:00.000000Z"


@pytest.fixture
def before(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A database at the schema just before the migration, with duplicates in it."""
    migrations = load_migrations()
    (index,) = [i for i, m in enumerate(migrations) if m.name == "sprint_names_and_lane_statuses"]
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, migrations[:index])
    conn.execute(
        "INSERT INTO users (id, display_name, created_at, updated_at) VALUES ('u', 'U', ?, ?)",
        (T0, T0),
    )
    for project in ("p1", "p2"):
        conn.execute(
            "INSERT INTO projects (id, key, name, created_by, created_at, updated_at) "
            "VALUES (?, upper(?), 'P', 'u', ?, ?)",
            (project, project, T0, T0),
        )
    sprints = [
        ("s1", "p1", "Sprint 1", T0, None),
        ("s2", "p1", "Sprint 1", T1, None),
        ("s3", "p1", "Sprint 1", T2, None),
        ("s4", "p1", "Sprint 1 (2)", T0, None),  # the name the first rename would take
        ("s5", "p1", "Old", T0, T0),  # deleted: keeps its name, frees nothing
        ("s6", "p1", "Old", T1, None),
        ("s7", "p2", "Sprint 1", T1, None),  # another project's namesake
    ]
    for sid, project, name, created, deleted in sprints:
        conn.execute(
            "INSERT INTO sprints (id, project_id, name, created_at, updated_at, deleted_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sid, project, name, created, created, deleted),
        )
    lanes = [
        ("l1", "p1", "Todo", "todo", 1, T1),
        ("l2", "p1", "Todo 2", "todo", 0, T2),  # leftmost: stays
        ("l3", "p1", "Todo 3", "todo", 5, T0),
        ("l4", "p1", "Done", "done", 2, T0),
        ("l5", "p2", "Todo", "todo", 0, T0),
    ]
    for lid, project, name, status, position, created in lanes:
        conn.execute(
            "INSERT INTO swim_lanes (id, project_id, name, status, position, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (lid, project, name, status, position, created, created),
        )
    yield conn
    conn.close()


def test_later_namesakes_are_renamed_in_creation_order(before: sqlite3.Connection) -> None:
    migrate(before, load_migrations())
    rows = before.execute("SELECT id, name, version FROM sprints ORDER BY id").fetchall()
    assert rows == [
        ("s1", "Sprint 1", 1),
        ("s2", "Sprint 1 (2) (s2)", 2),  # "Sprint 1 (2)" was taken by s4
        ("s3", "Sprint 1 (3)", 2),
        ("s4", "Sprint 1 (2)", 1),
        ("s5", "Old", 1),
        ("s6", "Old", 1),
        ("s7", "Sprint 1", 1),
    ]


def test_only_the_leftmost_live_lane_of_a_status_stays(before: sqlite3.Connection) -> None:
    migrate(before, load_migrations())
    live = before.execute(
        "SELECT id FROM swim_lanes WHERE deleted_at IS NULL ORDER BY id"
    ).fetchall()
    assert [row[0] for row in live] == ["l2", "l4", "l5"]
    gone = before.execute("SELECT version FROM swim_lanes WHERE id IN ('l1', 'l3')").fetchall()
    assert gone == [(2,), (2,)]


def test_the_database_then_refuses_new_duplicates(before: sqlite3.Connection) -> None:
    migrate(before, load_migrations())
    with pytest.raises(sqlite3.IntegrityError):
        before.execute(
            "INSERT INTO sprints (id, project_id, name, created_at, updated_at) "
            "VALUES ('s9', 'p1', 'Sprint 1', ?, ?)",
            (T2, T2),
        )
    with pytest.raises(sqlite3.IntegrityError):
        before.execute(
            "INSERT INTO swim_lanes (id, project_id, name, status, position, created_at, "
            "updated_at) VALUES ('l9', 'p1', 'Another', 'done', 9, ?, ?)",
            (T2, T2),
        )
