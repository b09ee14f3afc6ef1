"""The context pack without a server: budget, relevance order, what is left out, no SQL.

The budget is measured on three sizes of board (10, 1,000 and 10,000 open
items) at the smallest, the default and the largest budget, with llm_context
rows long enough that not all of them fit in the small ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pm_core.enums import LlmContextType, SprintStatus, WorkItemType
from pm_core.models import LlmContext, Project, Sprint, WorkItem
from pm_server import context_pack as packs

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PROJECT = Project(
    id="p1", key="PM", name="Board", created_by="alice", created_at=NOW, updated_at=NOW
)
SPRINT = Sprint(
    id="s1", project_id="p1", name="Sprint 1", goal="Ship", status=SprintStatus.ACTIVE,
    created_at=NOW, updated_at=NOW,
)  # fmt: skip


def item(n: int, *, days_ago: float = 30, **fields: object) -> WorkItem:
    stamp = NOW - timedelta(days=days_ago)
    values: dict[str, object] = {
        "id": f"i{n}", "project_id": "p1", "item_number": n, "type": WorkItemType.TASK,
        "title": f"Item number {n} with a title of a usual length", "created_by": "alice",
        "created_at": stamp, "updated_at": stamp,
    }  # fmt: skip
    return WorkItem(**(values | fields))


def row(n: int, *, project: bool, size: int = 2_000, **fields: object) -> LlmContext:
    values: dict[str, object] = {
        "id": f"c{n}", "project_id": "p1" if project else None,
        "context_type": LlmContextType.BUSINESS_RULE, "title": f"Rule {n}",
        "content": f"Rule {n}: " + "words " * (size // 6), "priority": 50,
        "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip
    return LlmContext(**(values | fields))


def board(
    open_items: int, *, sprint: bool = True, blockers: dict[str, list[int]] | None = None
) -> packs.PackInput:
    items = [
        item(n, days_ago=n % 40, sprint_id="s1" if sprint and n % 10 == 0 else None)
        for n in range(1, open_items + 1)
    ]
    contexts = [row(n, project=n % 2 == 0) for n in range(12)]
    contexts.append(
        row(99, project=False, context_type=LlmContextType.SCHEMA_DOC, example_sql="SELECT 1")
    )
    return packs.PackInput(
        project=PROJECT,
        caller_id="alice",
        now=NOW,
        seq=42,
        contexts=contexts,
        active_sprint=SPRINT if sprint else None,
        open_items=items,
        blockers=blockers or {},
    )


@pytest.mark.parametrize("size", [10, 1_000, 10_000])
@pytest.mark.parametrize("budget", [packs.MIN_BUDGET, packs.DEFAULT_BUDGET, packs.MAX_BUDGET])
def test_pack_stays_within_its_budget_on_three_sizes(size: int, budget: int) -> None:
    pack = packs.build(board(size), budget)

    assert pack.tokens == packs.count_tokens(pack.text) <= budget
    assert pack.open_items == size
    assert len(pack.item_keys) == len(set(pack.item_keys))
    shown = sum(1 for line in pack.text.splitlines() if line.startswith("- PM-"))
    assert shown == len(pack.item_keys)
    missing = size - len(pack.item_keys)
    if missing:
        assert f"{missing} of {size} open items" in pack.text
        assert any(line.startswith(f"{missing} of {size} open items") for line in pack.left_out)
    assert pack.text.rstrip().splitlines()[-1] != "## Left out"


def test_a_small_budget_still_lists_items_and_names_the_rows_it_left_out() -> None:
    pack = packs.build(board(1_000), packs.MIN_BUDGET)

    assert pack.item_keys  # the contexts take at most half of what remains
    omitted_rows = [line for line in pack.left_out if "llm_context rows: 'Rule" in line]
    assert omitted_rows
    assert " more; read them with `list_llm_context`" in pack.text
    assert "(none fit in the budget: see Left out)" in pack.text
    assert all(f"id {cid}" in pack.text for cid in pack.context_ids)


def test_open_items_come_most_relevant_first() -> None:
    items = [
        item(1, days_ago=1),  # recent
        item(2, days_ago=30, assignee_id="alice"),  # mine
        item(3, days_ago=30),  # blocked
        item(4, days_ago=30, sprint_id="s1"),  # in the sprint
        item(5, days_ago=30),  # nothing
        item(6, days_ago=2, assignee_id="alice"),  # recent and mine
        item(7, days_ago=30, sprint_id="s1", assignee_id="bob"),  # sprint, someone else's
    ]
    data = packs.PackInput(
        project=PROJECT, caller_id="alice", now=NOW, seq=1, contexts=[],
        active_sprint=SPRINT, open_items=items, blockers={"i3": [4]},
    )  # fmt: skip

    pack = packs.build(data, packs.DEFAULT_BUDGET)

    assert pack.item_keys == ["PM-4", "PM-7", "PM-3", "PM-6", "PM-1", "PM-2", "PM-5"]
    assert "- PM-3 task backlog medium: " in pack.text
    assert "(blocked by PM-4; changed 2026-11-07)" in pack.text
    assert "(sprint; bob; changed" in pack.text
    assert "(assigned to you; changed 2026-12-05)" in pack.text


def test_pack_shows_no_sql_and_says_where_the_schema_docs_went() -> None:
    contexts = [
        row(1, project=True, size=100, example_sql="SELECT * FROM work_items"),
        row(2, project=False, size=100, context_type=LlmContextType.QUERY_PATTERN,
            example_sql="SELECT id FROM sprints"),
        row(3, project=False, size=100, context_type=LlmContextType.SCHEMA_DOC,
            content="Table work_items: SELECT it"),
    ]  # fmt: skip
    data = packs.PackInput(
        project=PROJECT, caller_id="alice", now=NOW, seq=1, contexts=contexts,
        active_sprint=None, open_items=[item(1)], blockers={},
    )  # fmt: skip

    pack = packs.build(data, packs.DEFAULT_BUDGET)

    assert "SELECT" not in pack.text
    assert pack.context_ids == ["c1"]
    assert pack.contexts == 3
    assert "2 tenant-wide llm_context rows of schema docs" in pack.text
    assert "No sprint is active." in pack.text


def test_an_empty_board_says_nothing_was_left_out() -> None:
    data = packs.PackInput(
        project=PROJECT, caller_id="alice", now=NOW, seq=0, contexts=[],
        active_sprint=None, open_items=[], blockers={},
    )  # fmt: skip

    pack = packs.build(data, packs.MIN_BUDGET)

    assert pack.text.endswith("## Left out\n\nNothing: the whole board is above.\n")
    assert (pack.item_keys, pack.left_out) == ([], [])


def test_count_tokens_is_characters_over_four_rounded_up() -> None:
    assert [packs.count_tokens(t) for t in ("", "a", "abcd", "abcde", "é" * 8)] == [0, 1, 1, 2, 2]


def test_the_smallest_budget_holds_the_longest_names_and_many_left_out_rows() -> None:
    project = PROJECT.model_copy(
        update={"key": "ABCDEFGHIJ", "name": "N" * 200, "description": "D " * 5_000}
    )
    sprint = SPRINT.model_copy(update={"name": "S" * 200, "goal": "G " * 5_000})
    contexts = [row(n, project=True, title="T" * 500, size=9_000) for n in range(50)]
    contexts += [row(99, project=False, context_type=LlmContextType.QUERY_PATTERN)]
    items = [item(n, title="W" * 500, sprint_id="s1") for n in range(1, 200)]
    data = packs.PackInput(
        project=project, caller_id="alice", now=NOW, seq=10**12, contexts=contexts,
        active_sprint=sprint, open_items=items, blockers={"i1": list(range(2, 100))},
    )  # fmt: skip

    pack = packs.build(data, packs.MIN_BUDGET)

    assert pack.tokens <= packs.MIN_BUDGET
    assert pack.text.rstrip().endswith("the commands above read the same data.")
