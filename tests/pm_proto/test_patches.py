"""Update commands -> typed patches (pm_proto.patches.patch_of), and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st

from pm_core import models
from pm_core.enums import LlmContextType, Priority, ProjectStatus, WorkItemStatus, WorkItemType
from pm_core.errors import ValidationError
from pm_core.models import (
    LlmContextPatch,
    ProjectPatch,
    SprintPatch,
    SwimLanePatch,
    TimeEntryPatch,
    WorkItemPatch,
)
from pm_core.patches import Patch
from pm_proto import patches
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2 as C
from pm_proto.v1 import entities_pb2 as E

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 17, 0, 0, 250_000, tzinfo=UTC)
# Beyond year 9999: a time no datetime can hold.
OUT_OF_RANGE = Timestamp(seconds=253_402_300_800)
NOTHING = "name at least one field to change"
# proto3 enums are open: a peer may send a number no enum value has.
UNKNOWN: Any = 42

# Every Update* command of the schema: one added there is checked here with no list to keep.
UPDATE_COMMANDS = sorted(
    name for name in C.DESCRIPTOR.message_types_by_name if name.startswith("Update")
)


def patch_type_of(command_name: str) -> type[Patch] | None:
    """``UpdateWorkItem`` -> ``WorkItemPatch`` (None when it is missing)."""
    name = command_name.removeprefix("Update") + "Patch"
    patch: type[Patch] | None = getattr(models, name, None)
    return patch


def convert(cmd: Message) -> Patch:
    patch_type = patch_type_of(type(cmd).__name__)
    assert patch_type is not None
    return patches.patch_of(cmd, patch_type)


CONVERTED: list[tuple[Message, Patch]] = [
    (C.UpdateProject(project_id="p", name="Renamed"), ProjectPatch(name="Renamed")),
    (
        C.UpdateProject(description="", status=E.PROJECT_STATUS_ARCHIVED),
        ProjectPatch(description="", status=ProjectStatus.ARCHIVED),
    ),
    (
        C.UpdateWorkItem(
            item_id="i",
            expected_version=3,
            title="T",
            description="",
            type=E.WORK_ITEM_TYPE_STORY,
            status=E.WORK_ITEM_STATUS_IN_REVIEW,
            priority=E.PRIORITY_CRITICAL,
            story_points=0,
            position=-2.5,
            parent_id="p1",
            sprint_id="s1",
            assignee_id="u1",
        ),
        WorkItemPatch(
            title="T",
            description="",
            type=WorkItemType.STORY,
            status=WorkItemStatus.IN_REVIEW,
            priority=Priority.CRITICAL,
            story_points=0,
            position=-2.5,
            parent_id="p1",
            sprint_id="s1",
            assignee_id="u1",
        ),
    ),
    # "" clears the nullable ids: orphan, backlog, unassigned.
    (
        C.UpdateWorkItem(parent_id="", sprint_id="", assignee_id=""),
        WorkItemPatch(parent_id=None, sprint_id=None, assignee_id=None),
    ),
    (C.UpdateWorkItem(clear_story_points=True), WorkItemPatch(story_points=None)),
    (C.UpdateWorkItem(position=0.0), WorkItemPatch(position=0.0)),
    (
        C.UpdateSprint(name="S", goal="", starts_at=to_timestamp(T0), ends_at=to_timestamp(T1)),
        SprintPatch(name="S", goal="", starts_at=T0, ends_at=T1),
    ),
    (
        C.UpdateSprint(clear_starts_at=True, clear_ends_at=True),
        SprintPatch(starts_at=None, ends_at=None),
    ),
    (
        C.UpdateSwimLane(name="QA", status=E.WORK_ITEM_STATUS_TODO, position=0, wip_limit=3),
        SwimLanePatch(name="QA", status=WorkItemStatus.TODO, position=0, wip_limit=3),
    ),
    (C.UpdateSwimLane(clear_wip_limit=True), SwimLanePatch(wip_limit=None)),
    (
        C.UpdateTimeEntry(started_at=to_timestamp(T0), ended_at=to_timestamp(T1), note=""),
        TimeEntryPatch(started_at=T0, ended_at=T1, note=""),
    ),
    (C.UpdateTimeEntry(note="n"), TimeEntryPatch(note="n")),
    (
        C.UpdateLlmContext(
            context_type=E.LLM_CONTEXT_TYPE_EXAMPLE,
            category="",
            title="T",
            content="C",
            example_sql="SELECT 1",
            priority=0,
        ),
        LlmContextPatch(
            context_type=LlmContextType.EXAMPLE,
            category="",
            title="T",
            content="C",
            example_sql="SELECT 1",
            priority=0,
        ),
    ),
    (C.UpdateLlmContext(example_sql=""), LlmContextPatch(example_sql=None)),
]

# Each refusal as the client has always seen it: (command, field, message).
REFUSED: list[tuple[Message, str, str]] = [
    (C.UpdateProject(project_id="p", expected_version=1), "name", NOTHING),
    (C.UpdateProject(status=UNKNOWN), "status", "status: unknown ProjectStatus value"),
    (C.UpdateProject(status=E.PROJECT_STATUS_UNSPECIFIED), "status", "status is required"),
    (C.UpdateWorkItem(item_id="i", clear_story_points=False), "item_id", NOTHING),
    (
        C.UpdateWorkItem(story_points=3, clear_story_points=True),
        "story_points",
        "story_points and clear_story_points contradict",
    ),
    (
        C.UpdateWorkItem(title="t", story_points=0, clear_story_points=True),
        "story_points",
        "story_points and clear_story_points contradict",
    ),
    (C.UpdateWorkItem(type=UNKNOWN), "type", "type: unknown WorkItemType value"),
    (C.UpdateWorkItem(status=UNKNOWN), "status", "status: unknown WorkItemStatus value"),
    (C.UpdateWorkItem(priority=UNKNOWN), "priority", "priority: unknown Priority value"),
    (C.UpdateSprint(sprint_id="s"), "name", NOTHING),
    (
        C.UpdateSprint(starts_at=to_timestamp(T0), clear_starts_at=True),
        "starts_at",
        "set starts_at or clear it, not both",
    ),
    (
        C.UpdateSprint(name="S", ends_at=to_timestamp(T1), clear_ends_at=True),
        "ends_at",
        "set ends_at or clear it, not both",
    ),
    (C.UpdateSprint(starts_at=OUT_OF_RANGE), "starts_at", "starts_at: time is out of range"),
    (C.UpdateSwimLane(lane_id="l"), "name", NOTHING),
    (
        C.UpdateSwimLane(wip_limit=3, clear_wip_limit=True),
        "wip_limit",
        "send either wip_limit or clear_wip_limit",
    ),
    (C.UpdateSwimLane(status=UNKNOWN), "status", "status: unknown WorkItemStatus value"),
    (C.UpdateTimeEntry(entry_id="e"), "note", NOTHING),
    (C.UpdateTimeEntry(ended_at=OUT_OF_RANGE), "ended_at", "ended_at: time is out of range"),
    (C.UpdateLlmContext(context_id="c"), "title", NOTHING),
    (
        C.UpdateLlmContext(context_type=UNKNOWN),
        "context_type",
        "context_type: unknown LlmContextType value",
    ),
]


def _name(cmd: Message) -> str:
    return type(cmd).__name__


REFUSED_IDS = [f"{_name(cmd)}-{field}" for cmd, field, _ in REFUSED]


@pytest.mark.parametrize(("cmd", "expected"), CONVERTED, ids=_name)
def test_update_command_converts_to_its_patch(cmd: Message, expected: Patch) -> None:
    assert convert(cmd) == expected


@pytest.mark.parametrize(("cmd", "field", "message"), REFUSED, ids=REFUSED_IDS)
def test_update_command_that_cannot_mean_anything_is_refused_naming_the_field(
    cmd: Message, field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        convert(cmd)
    assert (info.value.field, str(info.value)) == (field, message)


def test_every_update_command_has_its_patch() -> None:
    missing = [name for name in UPDATE_COMMANDS if patch_type_of(name) is None]
    assert not missing, f"pm_core/models.py has no patch for {missing}"


@pytest.mark.parametrize("command_name", UPDATE_COMMANDS)
def test_each_optional_field_of_the_command_is_a_field_of_the_patch(command_name: str) -> None:
    """A field added to the command and forgotten in its patch (pm_core/models.py) fails here."""
    patch = patch_type_of(command_name)
    assert patch is not None, f"pm_core/models.py has no patch for {command_name}"
    # 1 and 2 are the target's id and expected_version; a clear_* flag sets its field to None.
    fields = {
        field.name
        for field in C.DESCRIPTOR.message_types_by_name[command_name].fields
        if field.number > 2 and not field.name.startswith("clear_")
    }
    assert fields == patch.field_names(), f"pm_core/models.py: {patch.__name__}"


@given(
    st.sets(st.sampled_from(["title", "description", "position", "parent_id", "sprint_id"])),
    st.booleans(),
)
def test_work_item_patch_sets_exactly_the_fields_present(fields: set[str], clear: bool) -> None:
    values: dict[str, Any] = {
        "title": "t",
        "description": "",
        "position": 0.0,
        "parent_id": "",
        "sprint_id": "s",
    }
    cmd = C.UpdateWorkItem(item_id="i", clear_story_points=clear, **{f: values[f] for f in fields})
    expected = fields | ({"story_points"} if clear else set())
    if not expected:
        with pytest.raises(ValidationError):
            convert(cmd)
        return
    assert set(convert(cmd).changes()) == expected


def test_a_patch_the_command_cannot_fill_is_a_programming_error() -> None:
    # A ProjectPatch would drop what an UpdateSwimLane asks for.
    with pytest.raises(
        TypeError, match="UpdateSwimLane -> ProjectPatch: the patch has no field position"
    ):
        patches.patch_of(C.UpdateSwimLane(name="n"), ProjectPatch)
    # A field without presence cannot tell "leave it" from "set it to the default".
    with pytest.raises(TypeError, match=r"CreateProject -> ProjectPatch: .* cannot be told absent"):
        patches.patch_of(C.CreateProject(name="n"), ProjectPatch)
