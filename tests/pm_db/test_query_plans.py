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
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.work_items import (
    INSERT,
    SELECT_BY_KEY,
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
            ("priority", "story_points", "position", "parent_id", "sprint_id", "assignee_id"), None
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
