"""Dependency rules: endpoints, the per-item cap, and cycle detection."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import WorkItemType
from pm_core.errors import DependencyCycleError, RuleViolationError
from pm_core.models import WorkItem
from pm_core.rules.dependencies import (
    MAX_DEPENDENCIES_PER_ITEM,
    check_cap,
    check_endpoints,
    check_no_cycle,
    find_cycle,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(item_id: str, project_id: str = "p1") -> WorkItem:
    return WorkItem(
        id=item_id,
        created_at=T0,
        updated_at=T0,
        project_id=project_id,
        item_number=1,
        type=WorkItemType.TASK,
        title="An item",
        created_by="u1",
    )


def test_check_endpoints_on_itself_is_refused():
    with pytest.raises(RuleViolationError) as info:
        check_endpoints(item("a"), item("a"))
    assert info.value.rule == "dependency.self"
    assert info.value.field == "to_item_id"


def test_check_endpoints_across_projects_is_refused():
    with pytest.raises(RuleViolationError) as info:
        check_endpoints(item("a", "p1"), item("b", "p2"))
    assert info.value.rule == "dependency.same_project"
    assert info.value.field == "to_item_id"


def test_check_endpoints_between_two_items_of_one_project_is_allowed():
    check_endpoints(item("a"), item("b"))


def test_check_cap_below_the_cap_is_allowed():
    check_cap("a", MAX_DEPENDENCIES_PER_ITEM - 1)


@pytest.mark.parametrize("live", [MAX_DEPENDENCIES_PER_ITEM, MAX_DEPENDENCIES_PER_ITEM + 5])
def test_check_cap_at_or_over_the_cap_is_refused(live):
    with pytest.raises(RuleViolationError) as info:
        check_cap("a", live)
    assert info.value.rule == "dependency.cap"
    assert info.value.field == "to_item_id"
    assert str(MAX_DEPENDENCIES_PER_ITEM) in info.value.message


def test_check_cap_names_the_field_it_is_given():
    with pytest.raises(RuleViolationError) as info:
        check_cap("a", MAX_DEPENDENCIES_PER_ITEM, field="from_item_id")
    assert info.value.field == "from_item_id"


def test_find_cycle_closing_a_chain_returns_the_loop():
    edges = [("a", "b"), ("b", "c")]
    assert find_cycle(edges, "c", "a") == ["c", "a", "b", "c"]


def test_find_cycle_in_a_diamond_is_none():
    edges = [("a", "b"), ("a", "c"), ("b", "d")]
    assert find_cycle(edges, "c", "d") is None


def test_find_cycle_on_a_two_item_loop():
    assert find_cycle([("a", "b")], "b", "a") == ["b", "a", "b"]


def test_find_cycle_returns_the_shortest_loop():
    edges = [("b", "x"), ("x", "y"), ("y", "a"), ("b", "a")]
    assert find_cycle(edges, "a", "b") == ["a", "b", "a"]


def test_check_no_cycle_names_the_path_in_the_error():
    with pytest.raises(DependencyCycleError) as info:
        check_no_cycle([("a", "b"), ("b", "c")], "c", "a")
    assert info.value.path == ("c", "a", "b", "c")
    assert info.value.rule == "dependency.cycle"
    assert info.value.field == "to_item_id"
    assert "c -> a -> b -> c" in info.value.message


def test_check_no_cycle_without_loop_passes():
    check_no_cycle([("a", "b")], "a", "c")


NODES = [f"i{n}" for n in range(8)]
edge = st.tuples(st.sampled_from(NODES), st.sampled_from(NODES))


def reachable(edges: list[tuple[str, str]], start: str, goal: str) -> bool:
    """Reference depth-first search: is ``goal`` reachable from ``start`` (0+ steps)?"""
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for source, target in edges:
            if source == node and target not in seen:
                seen.add(target)
                stack.append(target)
    return False


@settings(max_examples=200)
@given(st.lists(edge, max_size=20), edge)
def test_find_cycle_matches_reference_reachability(edges, new_edge):
    new_from, new_to = new_edge
    path = find_cycle(edges, new_from, new_to)
    assert (path is not None) is reachable(edges, new_to, new_from)
    if path is None:
        return
    assert path[0] == new_from
    assert path[1] == new_to
    assert path[-1] == new_from
    existing = set(edges)
    for pair in itertools.pairwise(path[1:]):
        assert pair in existing
    # The loop visits no item twice.
    assert len(set(path[1:])) == len(path) - 1
