"""``diff`` (pm_core.changes) and ``build``/``merge`` (pm_core.validation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.changes import Updated, diff
from pm_core.enums import SprintStatus, WorkItemStatus
from pm_core.errors import ValidationError
from pm_core.models import FieldChange, Sprint, WorkItem
from pm_core.text import TITLE_MAX
from pm_core.validation import build, merge

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
ITEM: dict[str, Any] = {
    "id": "w1",
    "created_at": T0,
    "updated_at": T0,
    "project_id": "p1",
    "item_number": 1,
    "type": "task",
    "title": "Write tests",
    "created_by": "u1",
}
UPDATABLE = frozenset({"title", "status", "story_points", "assignee_id", "description"})


def work_item(**fields: Any) -> WorkItem:
    return build(WorkItem, {**ITEM, **fields})


def test_diff_reports_each_changed_field_once_in_declaration_order():
    old = work_item()
    new = work_item(status="in_progress", title="Write more tests", story_points=3)
    assert diff(old, new) == [
        FieldChange(field="title", old="Write tests", new="Write more tests"),
        FieldChange(field="status", old="backlog", new="in_progress"),
        FieldChange(field="story_points", old=None, new=3),
    ]


def test_diff_ignores_version_and_timestamps():
    old = work_item()
    new = work_item(version=7, updated_at=T1)
    assert diff(old, new) == []


def test_diff_values_are_json_form():
    old = Sprint(id="s1", created_at=T0, updated_at=T0, project_id="p1", name="S1")
    new = old.model_copy(update={"starts_at": T1, "status": SprintStatus.ACTIVE})
    changes = {change.field: change for change in diff(old, new)}
    assert changes["starts_at"].new == "2026-01-01T01:00:00Z"
    assert changes["status"].new == "active"
    assert type(changes["status"].new) is str


def test_diff_restricted_to_fields_reports_only_those():
    new = work_item(status="done", title="Other")
    assert [c.field for c in diff(work_item(), new, fields=["status"])] == ["status"]


def test_diff_between_different_models_is_a_type_error():
    sprint = Sprint(id="s1", created_at=T0, updated_at=T0, project_id="p1", name="S1")
    with pytest.raises(TypeError):
        diff(work_item(), sprint)


@settings(max_examples=100)
@given(st.sampled_from(list(WorkItemStatus)), st.sampled_from(list(WorkItemStatus)))
def test_diff_reports_status_exactly_when_it_changed(before, after):
    changes = diff(work_item(status=before), work_item(status=after))
    expected = [] if before == after else [FieldChange(field="status", old=before, new=after)]
    assert changes == expected


def test_merge_applies_allowed_changes_and_bookkeeping():
    current = work_item()
    new = merge(
        current, {"title": "Renamed", "status": "done"}, UPDATABLE, version=2, updated_at=T1
    )
    assert (new.title, new.status, new.version, new.updated_at) == (
        "Renamed",
        WorkItemStatus.DONE,
        2,
        T1,
    )
    assert current.title == "Write tests"  # the original is untouched
    assert Updated(new, diff(current, new)).changes[0].field == "title"


@pytest.mark.parametrize("field", ["id", "project_id", "version", "created_by", "item_number"])
def test_merge_of_a_field_not_allowed_is_refused_naming_it(field):
    with pytest.raises(ValidationError) as info:
        merge(work_item(), {"title": "ok", field: "x"}, UPDATABLE)
    assert info.value.field == field


def test_merge_revalidates_the_result():
    with pytest.raises(ValidationError) as info:
        merge(work_item(), {"title": "x" * (TITLE_MAX + 1)}, UPDATABLE)
    assert info.value.field == "title"


def test_merge_can_clear_an_optional_field():
    current = work_item(assignee_id="u2")
    assert merge(current, {"assignee_id": None}, UPDATABLE).assignee_id is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"item_number": 0}, "item_number"),
        ({"story_points": -1}, "story_points"),
        ({"created_at": datetime(2026, 1, 1)}, "created_at"),  # naive
        ({"unknown": 1}, "unknown"),
    ],
)
def test_build_names_the_field_of_the_error(fields, field):
    with pytest.raises(ValidationError) as info:
        work_item(**fields)
    assert info.value.field == field
    assert info.value.message.startswith(f"{field}: ")


def test_build_with_missing_required_field_names_it():
    data = {k: v for k, v in ITEM.items() if k != "project_id"}
    with pytest.raises(ValidationError) as info:
        build(WorkItem, data)
    assert info.value.field == "project_id"


def test_build_with_several_errors_reports_the_first_declared_field():
    with pytest.raises(ValidationError) as info:
        work_item(item_number=0, title="")
    assert info.value.field == "item_number"


def test_build_returns_a_frozen_model():
    item = work_item()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        item.title = "changed"  # type: ignore[misc]
