"""Typed patches (pm_core.patches, each declared in pm_core.models beside its model): what they
hand to ``merge``; they match their models."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pm_core import models
from pm_core.enums import ProjectStatus, WorkItemStatus
from pm_core.models import Entity, Project, ProjectPatch, SprintPatch, TimeEntryPatch, WorkItemPatch
from pm_core.patches import UNSET, Patch, Unset
from pm_core.validation import build, merge

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Every patch with the model it changes, found by name (WorkItemPatch -> WorkItem; None when
# pm_core/models.py has no such model): a patch added there is checked here with no list to keep.
# ``dataclass(slots=True)`` makes a new class: the one it replaced lingers among the
# subclasses, so only the classes with their slots are the patches.
PATCHES: dict[type[Patch], type[Entity] | None] = {
    patch: getattr(models, patch.__name__.removesuffix("Patch"), None)
    for patch in Patch.__subclasses__()
    if "__slots__" in vars(patch)
}
PATCH_IDS = [patch.__name__ for patch in PATCHES]
# Set by the repository or fixed at creation: never part of a patch.
BOOKKEEPING = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
    "created_by",
    "project_id",
}


def test_unset_is_one_value_that_survives_copy_and_pickle():
    assert copy.deepcopy(UNSET) is UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
    assert list(Unset) == [UNSET]
    assert repr(UNSET) == "UNSET"


def test_changes_hold_only_the_set_fields_in_declaration_order():
    patch = WorkItemPatch(assignee_id="u2", title="Renamed", status=WorkItemStatus.DONE)
    assert list(patch.changes().items()) == [
        ("title", "Renamed"),
        ("status", WorkItemStatus.DONE),
        ("assignee_id", "u2"),
    ]


def test_none_is_a_change_that_clears_not_an_absent_field():
    patch = WorkItemPatch(story_points=None, sprint_id=None)
    assert patch.changes() == {"story_points": None, "sprint_id": None}
    assert not patch.is_empty()


def test_a_patch_setting_nothing_is_empty():
    assert WorkItemPatch().is_empty()
    assert WorkItemPatch().changes() == {}
    assert WorkItemPatch(title=UNSET).is_empty()


def test_a_patch_is_frozen_and_takes_keywords_only():
    patch = ProjectPatch(name="A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        patch.name = "B"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ProjectPatch("A")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ProjectPatch(key="NEW")  # type: ignore[call-arg]


@given(st.sets(st.sampled_from(sorted(SprintPatch.field_names()))))
def test_changes_name_exactly_the_fields_given(names: set[str]) -> None:
    values: dict[str, Any] = {"name": "S", "goal": "", "starts_at": None, "ends_at": T0}
    patch = SprintPatch(**{name: values[name] for name in names})
    assert set(patch.changes()) == names
    assert patch.is_empty() == (not names)


def test_field_names_are_every_field_of_the_patch():
    assert ProjectPatch.field_names() == {"name", "description", "status"}
    assert SprintPatch.field_names() == {"name", "goal", "starts_at", "ends_at"}
    assert TimeEntryPatch.field_names() == {"started_at", "ended_at", "note"}


def test_each_patch_is_declared_beside_its_model_in_models():
    for patch, model in PATCHES.items():
        where = patch.__name__
        assert patch.__module__ == "pm_core.models", f"{where}: declare it in pm_core/models.py"
        assert model is not None, f"pm_core/models.py has no model for {where}"
    # An entity's patch that went missing (each Update* command's is checked in
    # tests/pm_proto/test_patches.py).
    assert {model.__name__ for model in PATCHES.values() if model} >= {
        "Project",
        "WorkItem",
        "Sprint",
        "SwimLane",
        "TimeEntry",
        "LlmContext",
    }


@pytest.mark.parametrize(("patch", "model"), PATCHES.items(), ids=PATCH_IDS)
def test_each_patch_field_is_its_model_field_with_the_same_type(
    patch: type[Patch], model: type[Entity] | None
) -> None:
    assert model is not None, f"pm_core/models.py has no model for {patch.__name__}"
    patch_hints = get_type_hints(patch, include_extras=True)
    model_hints = get_type_hints(model, include_extras=True)
    for name in patch.field_names():
        where = f"{patch.__name__}.{name}"
        assert name in model.model_fields, f"{where} is not a {model.__name__} field"
        assert name not in BOOKKEEPING, f"{where} is set by the repository"
        assert _members(patch_hints[name]) - {Unset} == _members(model_hints[name]), where


def _members(hint: Any) -> set[Any]:
    """The types of a union (``Annotated`` ones with their constraints), or the type itself."""
    return set(get_args(hint)) if get_origin(hint) in (Union, UnionType) else {hint}


def test_merge_applies_a_patch_and_keeps_what_it_does_not_set():
    current = build(
        Project,
        {"id": "p1", "key": "PM", "name": "PM", "created_by": "u1"}
        | {"created_at": T0, "updated_at": T0, "description": "kept"},
    )
    patch = ProjectPatch(name="Renamed", status=ProjectStatus.ARCHIVED)
    new = merge(current, patch.changes(), ProjectPatch.field_names(), version=2)
    assert (new.name, new.status, new.description, new.version) == (
        "Renamed",
        ProjectStatus.ARCHIVED,
        "kept",
        2,
    )
