"""The hot work-item queries search an index instead of scanning or sorting the project.

Checked on the query plan, not on timings: a plan that scans the project's
items, sorts them all, or walks the board-order index from its start when a
page cursor is given is the regression these tests catch. (A selective filter
still walks the index until it has a page of matches; that cost is the share of
the project the filter skips, not the sort of all of it.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from pm_core.enums import WorkItemStatus
from pm_db.cascades import RELEASE_SPRINT_ITEMS
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.dependencies import SELECT_BLOCKED, SELECT_FOR_PROJECT
from pm_db.repositories.work_items import (
    INSERT,
    SELECT_BY_KEY,
    SELECT_CHILDREN,
    SELECT_FILTERED,
    WorkItemFilter,
)


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, load_migrations())
    yield conn
    conn.close()


def plan(conn: sqlite3.Connection, sql: str, parameters: Any) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", parameters).fetchall()
    return "\n".join(row[3] for row in rows)


def test_next_position_in_a_create_is_an_index_probe(conn: sqlite3.Connection) -> None:
    parameters = (
        dict.fromkeys(
            ("id", "project_id", "item_number", "type", "title", "description", "status"), "x"
        )
        | dict.fromkeys(
            (
                *("priority", "story_points", "position", "parent_id", "sprint_id"),
                *("assignee_id", "start_date", "due_date"),
            ),
            None,
        )
        | {"created_by": "u", "now": "t"}
    )
    text = plan(conn, INSERT, parameters)
    assert "USING INDEX work_items_order" in text or "COVERING INDEX work_items_order" in text


@pytest.mark.parametrize(
    "filters",
    [
        WorkItemFilter(limit=50),
        WorkItemFilter(statuses=[WorkItemStatus.TODO], limit=50),
        WorkItemFilter(statuses=[WorkItemStatus.DONE], include_done=True, limit=50),
        WorkItemFilter(include_done=False, limit=50, after=(10.0, 3)),
    ],
)
def test_lists_walk_the_order_index_without_sorting(
    conn: sqlite3.Connection, filters: WorkItemFilter
) -> None:
    text = plan(conn, SELECT_FILTERED, filters.parameters("p"))
    # A range search that starts at the cursor (or at the first item without one).
    assert "USING INDEX work_items_order (project_id=? AND (position,item_number)>(?,?))" in text
    assert "TEMP B-TREE FOR ORDER BY" not in text


def test_get_by_display_key_uses_the_number_index(conn: sqlite3.Connection) -> None:
    text = plan(conn, SELECT_BY_KEY, ("PM", 12))
    assert "work_items_number" in text
    assert "SCAN w" not in text


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (SELECT_CHILDREN, "work_items_parent"),
        (RELEASE_SPRINT_ITEMS, "work_items_sprint"),
        (
            "SELECT id FROM work_items WHERE assignee_id = ? AND deleted_at IS NULL",
            "work_items_assignee",
        ),
    ],
)
def test_lookups_by_reference_use_the_partial_reference_indexes(
    conn: sqlite3.Connection, sql: str, index: str
) -> None:
    # The indexes hold only rows that have the reference ("x = ?" implies x IS NOT NULL).
    parameters = ("t", "x") if sql is RELEASE_SPRINT_ITEMS else ("x",)
    assert f"USING INDEX {index}" in plan(conn, sql, parameters)


def test_work_items_carry_only_the_indexes_a_query_reads(conn: sqlite3.Connection) -> None:
    # Each index is written by every create; an item without a parent, sprint or assignee
    # writes no entry in theirs.
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'work_items' "
        "AND sql IS NOT NULL ORDER BY name"
    ).fetchall()
    indexes = {name: " ".join(sql.split()) for name, sql in rows}
    assert sorted(indexes) == [
        "work_items_assignee",
        "work_items_number",
        "work_items_order",
        "work_items_parent",
        "work_items_sprint",
    ]
    for name in ("assignee", "parent", "sprint"):
        assert (
            f"WHERE {name}_id IS NOT NULL AND deleted_at IS NULL" in indexes[f"work_items_{name}"]
        )


def test_blocked_items_walk_the_item_number_index_and_probe_dependencies(
    conn: sqlite3.Connection,
) -> None:
    text = plan(conn, SELECT_BLOCKED, {"project_id": "p", "after": 0, "limit": 500})
    assert "work_items_number" in text
    assert "dependencies_to" in text
    assert "TEMP B-TREE" not in text


def test_project_dependencies_read_the_project_index(conn: sqlite3.Connection) -> None:
    parameters = {"project_id": "p", "types": None, "after": "", "limit": 500}
    assert "dependencies_project" in plan(conn, SELECT_FOR_PROJECT, parameters)
