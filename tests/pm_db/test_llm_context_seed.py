"""The llm_context seed (migration 0002) is true of the schema it documents.

Every query pattern runs against a real tenant database holding known sample
data and returns the rows that data implies; every schema_doc names real
tables and exactly their columns; the business rules quote pm_core's rules.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from pm_core.enums import LlmContextType, WorkItemType
from pm_core.rules.dependencies import MAX_DEPENDENCIES_PER_ITEM
from pm_core.rules.hierarchy import ALLOWED_PARENT_TYPE
from pm_core.rules.sprints import TRANSITIONS
from pm_core.rules.timers import MAX_ENTRY_DURATION
from pm_db.codec import db_time
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.llm_context import LlmContextRepository

SEED_TIME = "2026-01-01T00:00:00.000000Z"
# A named parameter outside string literals (none of the seeded literals holds ":letter").
PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
COLUMN_LINE = re.compile(r"^- ([a-z_][a-z0-9_]*): ", re.MULTILINE)
UNDOCUMENTED_TABLES = frozenset(
    {
        "sqlite_sequence",
        "schema_migrations",
        # FTS5's own storage behind search_index (which is documented).
        *("search_index_data", "search_index_idx", "search_index_content"),
        *("search_index_docsize", "search_index_config"),
    }
)

PROJECT = "p-1"
EPIC, STORY, TASK, DONE_TASK, BLOCKER, DELETED = "w-1", "w-2", "w-3", "w-4", "w-5", "w-6"
ALICE, BOB = "u-alice", "u-bob"
# The past week the closed sample time entries fall in (a Monday, UTC).
WEEK = "2025-03-03T00:00:00.000000Z"


def _seed_text() -> str:
    """Every migration that seeds rows: 0002 and the later ones that document new tables."""
    folder = resources.files("pm_db").joinpath("migrations")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return "".join(folder.joinpath(name).read_text("utf-8") for name in names)


def _seeded(conn: sqlite3.Connection, context_type: LlmContextType) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM llm_context WHERE created_by IS NULL AND project_id IS NULL "
        "AND context_type = ? ORDER BY id",
        (context_type,),
    ).fetchall()


def _query_titles() -> list[str]:
    """The query patterns' titles, read from a freshly migrated database (for parametrize)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, load_migrations())
        rows = conn.execute(
            "SELECT title FROM llm_context WHERE context_type = 'query_pattern' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows]


def _insert_sample(conn: sqlite3.Connection) -> None:
    """A small board with one row of each kind, plus deleted rows every query must skip."""
    t = "2025-03-01T09:00:00.000000Z"
    running_since = db_time(datetime.now(UTC) - timedelta(hours=1))
    statements: list[tuple[str, Sequence[Any]]] = [
        (
            "INSERT INTO users (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (ALICE, "Alice", t, t),
        ),
        (
            "INSERT INTO users (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (BOB, "Bob", t, t),
        ),
        (
            "INSERT INTO projects (id, key, name, next_item_number, created_by, created_at, "
            "updated_at) VALUES (?, 'PM', 'Project', 7, ?, ?, ?)",
            (PROJECT, ALICE, t, t),
        ),
        (
            "INSERT INTO sprints (id, project_id, name, status, created_at, updated_at) "
            "VALUES ('s-active', ?, 'Sprint 1', 'active', ?, ?), "
            "('s-planned', ?, 'Sprint 2', 'planned', ?, ?)",
            (PROJECT, t, t, PROJECT, t, t),
        ),
    ]
    items = [
        # id, number, type, status, position, parent, sprint, deleted_at
        (EPIC, 1, "epic", "backlog", 1.0, None, None, None),
        (STORY, 2, "story", "in_progress", 1.0, EPIC, "s-active", None),
        (TASK, 3, "task", "todo", 1.0, STORY, "s-active", None),
        (DONE_TASK, 4, "task", "done", 1.0, None, None, None),
        (BLOCKER, 5, "task", "in_progress", 2.0, None, "s-planned", None),
        (DELETED, 6, "story", "todo", 0.5, EPIC, "s-active", t),
    ]
    for item_id, number, kind, status, position, parent, sprint, deleted in items:
        statements.append(
            (
                "INSERT INTO work_items (id, project_id, item_number, type, title, status, "
                "position, parent_id, sprint_id, created_by, created_at, updated_at, deleted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item_id,
                    PROJECT,
                    number,
                    kind,
                    f"Item {number}",
                    status,
                    position,
                    parent,
                    sprint,
                    ALICE,
                    t,
                    t,
                    deleted,
                ),
            )
        )
    dependencies = [
        ("d-1", BLOCKER, TASK, "blocks", None),  # TASK is blocked by an open item
        ("d-2", DONE_TASK, STORY, "blocks", None),  # the blocker is done: not blocked
        ("d-3", BLOCKER, STORY, "blocks", t),  # deleted: not blocked
        ("d-4", EPIC, TASK, "relates_to", None),  # not a blocking link
    ]
    for dep_id, from_id, to_id, kind, deleted in dependencies:
        statements.append(
            (
                "INSERT INTO dependencies (id, project_id, from_item_id, to_item_id, type, "
                "created_by, created_at, updated_at, deleted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (dep_id, PROJECT, from_id, to_id, kind, ALICE, t, t, deleted),
            )
        )
    entries = [
        # user, started, ended, deleted
        (ALICE, "2025-03-04T09:00:00.000000Z", "2025-03-04T11:00:00.000000Z", None),  # 2 h
        (ALICE, "2025-03-02T23:00:00.000000Z", "2025-03-03T00:30:00.000000Z", None),  # 0.5 h in
        (ALICE, "2025-02-25T09:00:00.000000Z", "2025-02-25T17:00:00.000000Z", None),  # last week
        (BOB, "2025-03-05T10:00:00.000000Z", "2025-03-05T13:00:00.000000Z", None),  # 3 h
        (BOB, "2025-03-06T10:00:00.000000Z", "2025-03-06T15:00:00.000000Z", t),  # deleted
        (ALICE, running_since, None, None),  # running now, outside WEEK
    ]
    for number, (user_id, started, ended, deleted) in enumerate(entries):
        statements.append(
            (
                "INSERT INTO time_entries (id, project_id, work_item_id, user_id, started_at, "
                "ended_at, created_at, updated_at, deleted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (f"t-{number}", PROJECT, TASK, user_id, started, ended, t, t, deleted),
            )
        )
    comments = [
        ("c-1", "first", "2025-03-04T09:00:00.000000Z", None),
        ("c-2", "second", "2025-03-04T10:00:00.000000Z", None),
        ("c-3", "gone", "2025-03-04T09:30:00.000000Z", t),
    ]
    for comment_id, body, created, deleted in comments:
        statements.append(
            (
                "INSERT INTO comments (id, project_id, work_item_id, author_id, body, "
                "created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (comment_id, PROJECT, TASK, BOB, body, created, created, deleted),
            )
        )
    activity = [
        ("a-1", TASK, "created", None, None, None),
        ("a-2", TASK, "updated", "status", '"backlog"', '"todo"'),
        ("a-3", STORY, "updated", "title", '"old"', '"new"'),
    ]
    for activity_id, entity_id, action, field, old, new in activity:
        statements.append(
            (
                "INSERT INTO activity_log (id, project_id, entity_type, entity_id, action, "
                "field, old_value, new_value, actor_id, created_at) "
                "VALUES (?, ?, 'work_item', ?, ?, ?, ?, ?, ?, ?)",
                (activity_id, PROJECT, entity_id, action, field, old, new, ALICE, t),
            )
        )
    for sql, params in statements:
        conn.execute(sql, params)


DEFAULT_PARAMS: dict[str, Any] = {
    "project_id": PROJECT,
    "project_key": "PM",
    "item_number": 3,
    "user_id": ALICE,
    "item_id": TASK,
    "week_start": None,
    "limit": 50,
}

# title -> (parameters that differ from DEFAULT_PARAMS, columns to compare, expected rows)
EXPECTED: dict[str, tuple[dict[str, Any], tuple[str, ...], list[tuple[Any, ...]]]] = {
    "Open work items of a project, grouped by status": (
        {},
        ("display_key",),
        [("PM-1",), ("PM-3",), ("PM-2",), ("PM-5",)],
    ),
    "Work items of the active sprint of a project": (
        {},
        ("sprint_name", "display_key"),
        [("Sprint 1", "PM-2"), ("Sprint 1", "PM-3")],
    ),
    "Blocked work items of a project and what blocks them": (
        {},
        ("display_key", "blocked_by_key", "blocked_by_status"),
        [("PM-3", "PM-5", "in_progress")],
    ),
    "A work item by its display key (e.g. PM-12)": (
        {"project_key": "pm", "item_number": 3},
        ("display_key", "id", "type"),
        [("PM-3", TASK, "task")],
    ),
    "Hours logged per user this week": (
        {"week_start": WEEK},
        ("user_id", "hours"),
        [(BOB, 3.0), (ALICE, 2.5)],
    ),
    "The running timer of a user": ({}, ("display_key", "hours_so_far"), [("PM-3", 1.0)]),
    "Recent activity of a work item": (
        {},
        ("action", "field", "new_value"),
        [("updated", "status", '"todo"'), ("created", None, None)],
    ),
    "All descendants of an epic (stories and their tasks)": (
        {"item_id": EPIC},
        ("depth", "display_key"),
        [(1, "PM-2"), (2, "PM-3")],
    ),
    "Comments of a work item": ({}, ("body", "author_name"), [("first", "Bob"), ("second", "Bob")]),
}


@pytest.mark.parametrize("title", _query_titles())
def test_seeded_query_pattern_runs_on_sample_data_and_returns_expected_rows(
    conn: sqlite3.Connection, title: str
) -> None:
    _insert_sample(conn)
    row = conn.execute(
        "SELECT example_sql FROM llm_context WHERE context_type = 'query_pattern' AND title = ?",
        (title,),
    ).fetchone()
    sql = row["example_sql"]
    assert sql, "a query pattern without example_sql"
    assert "deleted_at IS NULL" in sql
    assert "?" not in sql, "query patterns use named parameters only"
    overrides, columns, expected = EXPECTED.get(title, ({}, (), []))
    params = {**DEFAULT_PARAMS, **overrides}
    names = set(PARAMETER.findall(sql))
    assert names <= params.keys(), f"no sample value for {names - params.keys()}"

    rows = conn.execute(sql, {name: params[name] for name in names}).fetchall()

    assert title in EXPECTED, "every seeded query needs a known answer here"
    assert [tuple(r[c] for c in columns) for r in rows] == expected


def test_hours_query_defaults_to_the_current_week(conn: sqlite3.Connection) -> None:
    _insert_sample(conn)
    sql = conn.execute(
        "SELECT example_sql FROM llm_context WHERE title = 'Hours logged per user this week'"
    ).fetchone()[0]

    rows = conn.execute(sql, {"week_start": None, "project_id": None}).fetchall()

    # Only Alice's running timer (started an hour ago) can fall in the current week.
    assert [r["user_id"] for r in rows] in ([ALICE], [])
    assert all(0 <= r["hours"] <= 1.01 for r in rows)


def test_every_expected_answer_names_a_seeded_query(conn: sqlite3.Connection) -> None:
    titles = {row["title"] for row in _seeded(conn, LlmContextType.QUERY_PATTERN)}
    assert set(EXPECTED) == titles


def test_schema_docs_name_real_tables_and_exactly_their_columns(
    conn: sqlite3.Connection,
) -> None:
    tables = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if row[0] not in UNDOCUMENTED_TABLES
    }
    docs = _seeded(conn, LlmContextType.SCHEMA_DOC)
    documented = [row["category"] for row in docs]

    assert sorted(documented) == sorted(tables)
    for doc in docs:
        table = doc["category"]
        assert doc["title"].startswith(f"Table {table}: ")
        actual = [info["name"] for info in conn.execute(f"PRAGMA table_info({table})")]
        claimed = COLUMN_LINE.findall(doc["content"])
        assert claimed == actual, f"{table}: documented columns differ from the table"


def test_schema_docs_name_exactly_the_indexes_the_schema_has(conn: sqlite3.Connection) -> None:
    # After every migration: one that drops or replaces an index corrects the doc too.
    for doc in _seeded(conn, LlmContextType.SCHEMA_DOC):
        table = doc["category"]
        actual = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql IS NOT NULL",
                (table,),
            )
        }
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        named = set(re.findall(rf"\b({table}_[a-z_]+)\b", doc["content"])) - tables
        assert named == actual, f"{table}: documented indexes differ from the schema's"


def test_schema_docs_explain_soft_delete_versioning_and_formats(conn: sqlite3.Connection) -> None:
    for doc in _seeded(conn, LlmContextType.SCHEMA_DOC):
        content = doc["content"]
        columns = COLUMN_LINE.findall(content)
        assert "Keys and indexes:" in content
        assert "2026-11-22T10:00:00.000000Z" in content
        if "deleted_at" in columns:
            assert "Soft delete:" in content
            assert "Versioning:" in content
        else:
            assert "no deleted_at" in content or "No version and no deleted_at" in content


def test_seeded_business_rules_quote_pm_core_rules(conn: sqlite3.Connection) -> None:
    rules = {row["category"]: row["content"] for row in _seeded(conn, LlmContextType.BUSINESS_RULE)}

    for child, parent in ALLOWED_PARENT_TYPE.items():
        if parent is None:
            assert f"An {child} has no parent" in rules["hierarchy"]
        else:
            assert re.search(rf"{child}'s parent must be an? {parent}", rules["hierarchy"])
    assert "orphan" in rules["hierarchy"]
    assert f"At most {MAX_DEPENDENCIES_PER_ITEM} live dependencies" in rules["dependencies"]
    for rule in ("dependency.self", "dependency.same_project", "dependency.cycle"):
        assert rule in rules["dependencies"]
    for source, targets in TRANSITIONS.items():
        if targets:
            first, second = sorted(targets)
            pattern = rf"{source} -> ({first} or {second}|{second} or {first})"
            assert re.search(pattern, rules["sprints"]), source
    assert "one active sprint" in rules["sprints"]
    hours = int(MAX_ENTRY_DURATION.total_seconds() // 3600)
    assert f"at most {hours} hours" in rules["time_entries"]
    assert "one running timer" in rules["time_entries"]
    assert "never reused" in rules["integrity"]
    assert "version" in rules["integrity"]
    assert WorkItemType.EPIC in rules["hierarchy"]


def test_seed_rows_read_back_through_the_repository(
    conn: sqlite3.Connection, now: datetime
) -> None:
    inserts = _seed_text().count("INSERT INTO llm_context")

    contexts = LlmContextRepository(conn, now).list(limit=1000)

    assert len(contexts) == inserts
    assert 15 <= inserts <= 50
    assert all(c.project_id is None and c.created_by is None for c in contexts)
    assert all(db_time(c.created_at) == SEED_TIME for c in contexts)
    assert {c.context_type for c in contexts} >= {
        LlmContextType.SCHEMA_DOC,
        LlmContextType.QUERY_PATTERN,
        LlmContextType.BUSINESS_RULE,
        LlmContextType.INSTRUCTION,
    }
    instructions = " ".join(
        c.content for c in contexts if c.context_type == LlmContextType.INSTRUCTION
    )
    assert "deleted_at IS NULL" in instructions
    assert "version" in instructions
    assert "llm_context rows" in instructions


def test_migrating_twice_leaves_the_seed_once(conn: sqlite3.Connection) -> None:
    before = conn.execute("SELECT id FROM llm_context ORDER BY id").fetchall()

    applied = migrate(conn, load_migrations())

    after = conn.execute("SELECT id FROM llm_context ORDER BY id").fetchall()
    assert applied == []
    assert [r[0] for r in after] == [r[0] for r in before]
    assert len(after) == _seed_text().count("INSERT INTO llm_context")
    assert len({r[0] for r in after}) == len(after)
