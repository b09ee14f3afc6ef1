"""The epic > story > task hierarchy rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import WorkItemType
from pm_core.errors import HierarchyError, ValidationError
from pm_core.models import WorkItem
from pm_core.rules.hierarchy import (
    ALLOWED_PARENT_TYPE,
    check_parent,
    check_reparent,
    check_type_change,
    would_create_cycle,
)

EPIC, STORY, TASK = WorkItemType.EPIC, WorkItemType.STORY, WorkItemType.TASK
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(item_type: WorkItemType, *, item_id: str = "parent", project_id: str = "p1") -> WorkItem:
    return WorkItem(
        id=item_id,
        created_at=T0,
        updated_at=T0,
        project_id=project_id,
        item_number=1,
        type=item_type,
        title="An item",
        created_by="u1",
    )


def test_allowed_parent_type_is_epic_story_task():
    assert dict(ALLOWED_PARENT_TYPE) == {EPIC: None, STORY: EPIC, TASK: STORY}


@pytest.mark.parametrize(
    ("child", "parent", "rule"),
    [
        (EPIC, EPIC, "hierarchy.epic_has_no_parent"),
        (EPIC, STORY, "hierarchy.epic_has_no_parent"),
        (EPIC, TASK, "hierarchy.epic_has_no_parent"),
        (STORY, EPIC, None),
        (STORY, STORY, "hierarchy.parent_type"),
        (STORY, TASK, "hierarchy.parent_type"),
        (TASK, EPIC, "hierarchy.parent_type"),
        (TASK, STORY, None),
        (TASK, TASK, "hierarchy.parent_type"),
    ],
)
def test_check_parent_allows_only_epic_story_task(child, parent, rule):
    if rule is None:
        check_parent(child, "p1", item(parent))
        return
    with pytest.raises(HierarchyError) as info:
        check_parent(child, "p1", item(parent))
    assert info.value.rule == rule
    assert info.value.field == "parent_id"
    assert isinstance(info.value, ValidationError)
    assert info.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("child", list(WorkItemType))
def test_check_parent_without_parent_allows_orphans_of_every_type(child):
    check_parent(child, "p1", None)  # no exception: orphans are fine


@pytest.mark.parametrize(("child", "parent"), [(STORY, EPIC), (TASK, STORY)])
def test_check_parent_in_another_project_is_refused(child, parent):
    with pytest.raises(HierarchyError) as info:
        check_parent(child, "p1", item(parent, project_id="p2"))
    assert info.value.rule == "hierarchy.same_project"


def test_check_parent_error_message_says_what_parent_is_needed():
    with pytest.raises(HierarchyError) as info:
        check_parent(TASK, "p1", item(EPIC))
    assert "story" in info.value.message


@pytest.mark.parametrize(
    ("new_type", "parent", "children", "rule"),
    [
        (STORY, EPIC, [TASK, TASK], None),
        (TASK, STORY, [], None),
        (EPIC, None, [STORY], None),
        (STORY, None, [], None),
        (TASK, None, [], None),
        (EPIC, EPIC, [], "hierarchy.parent_type"),
        (TASK, EPIC, [], "hierarchy.parent_type"),
        (STORY, STORY, [], "hierarchy.parent_type"),
        (TASK, None, [TASK], "hierarchy.child_type"),
        (EPIC, None, [TASK], "hierarchy.child_type"),
        (STORY, None, [STORY], "hierarchy.child_type"),
        (STORY, EPIC, [TASK, STORY], "hierarchy.child_type"),
    ],
)
def test_check_type_change_must_fit_parent_and_children(new_type, parent, children, rule):
    parent_item = None if parent is None else item(parent)
    if rule is None:
        check_type_change(new_type, parent_item, children)
        return
    with pytest.raises(HierarchyError) as info:
        check_type_change(new_type, parent_item, children)
    assert info.value.rule == rule


def chain(parents: Mapping[str, str | None]):
    return parents.get


def test_would_create_cycle_when_new_parent_is_the_item_itself():
    assert would_create_cycle("a", "a", chain({}))


def test_would_create_cycle_when_new_parent_is_a_descendant():
    # epic a > story b > task c; making c the parent of a loops.
    parents = {"a": None, "b": "a", "c": "b"}
    assert would_create_cycle("a", "c", chain(parents))
    assert not would_create_cycle("c", "a", chain(parents))


def test_would_create_cycle_with_no_new_parent_is_false():
    assert not would_create_cycle("a", None, chain({"a": "b"}))


def test_would_create_cycle_terminates_on_data_that_already_loops():
    parents = {"x": "y", "y": "x"}
    assert not would_create_cycle("a", "x", chain(parents))
    assert would_create_cycle("x", "y", chain(parents))


def test_check_reparent_under_descendant_raises_cycle_rule():
    with pytest.raises(HierarchyError) as info:
        check_reparent("a", "b", chain({"b": "a", "a": None}))
    assert info.value.rule == "hierarchy.cycle"
    assert info.value.field == "parent_id"


def test_check_reparent_to_unrelated_item_is_allowed():
    check_reparent("a", "z", chain({"b": "a", "z": None}))


@st.composite
def forests(draw: st.DrawFn) -> tuple[dict[str, str | None], str, str | None]:
    """A random forest (node i's parent is None or an earlier node), an item, a new parent."""
    size = draw(st.integers(min_value=1, max_value=15))
    labels = draw(st.permutations([f"n{i}" for i in range(size)]))
    parents: dict[str, str | None] = {}
    for index, label in enumerate(labels):
        parent = draw(st.one_of(st.none(), st.integers(0, index - 1))) if index else None
        parents[label] = None if parent is None else labels[parent]
    item_id = draw(st.sampled_from(labels))
    new_parent = draw(st.one_of(st.none(), st.sampled_from(labels)))
    return parents, item_id, new_parent


def ancestors_or_self(node: str | None, parents: dict[str, str | None]) -> set[str]:
    found: set[str] = set()
    while node is not None:
        found.add(node)
        node = parents[node]
    return found


@settings(max_examples=200)
@given(forests())
def test_would_create_cycle_matches_reference_ancestor_search(case):
    parents, item_id, new_parent = case
    expected = item_id in ancestors_or_self(new_parent, parents)
    assert would_create_cycle(item_id, new_parent, parents.__getitem__) is expected
    if expected:
        with pytest.raises(HierarchyError):
            check_reparent(item_id, new_parent, parents.__getitem__)
    else:
        check_reparent(item_id, new_parent, parents.__getitem__)
        # Applying the accepted move keeps the forest acyclic.
        moved = {**parents, item_id: new_parent}
        for node in moved:
            seen: list[str] = []
            cursor: str | None = node
            while cursor is not None:
                assert cursor not in seen
                seen.append(cursor)
                cursor = moved[cursor]


@pytest.mark.parametrize(
    ("child", "parent", "message"),
    [
        (EPIC, STORY, "an epic cannot have a parent"),
        (STORY, TASK, "the parent of a story must be an epic"),
        (TASK, EPIC, "the parent of a task must be a story"),
    ],
)
def test_check_parent_messages_read_right(child, parent, message):
    with pytest.raises(HierarchyError) as caught:
        check_parent(child, "p1", item(parent))
    assert caught.value.message == message


def test_check_type_change_message_reads_right():
    with pytest.raises(HierarchyError) as caught:
        check_type_change(EPIC, None, [TASK])
    assert caught.value.message.startswith("an epic cannot have a task as a child")
