"""Update commands -> typed patches (pm_core.patches).

Each converter reads the command's optional fields (present = change it) and
its ``clear_*`` flags, and refuses what cannot mean anything with a
VALIDATION_ERROR naming the field: a value together with its ``clear_*`` flag,
an enum value pm does not know, a time out of range, and a command that
changes nothing at all. For the nullable ids of a work item and for
``example_sql``, the empty string clears.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, TypeVar

from pm_core.errors import ValidationError
from pm_core.patches import (
    UNSET,
    LlmContextPatch,
    Patch,
    ProjectPatch,
    SprintPatch,
    SwimLanePatch,
    TimeEntryPatch,
    Unset,
    WorkItemPatch,
)
from pm_proto import enums as pb_enums
from pm_proto.timestamps import get_time
from pm_proto.v1 import commands_pb2

P = TypeVar("P", bound=Patch)

_NOTHING_TO_CHANGE: Final = "name at least one field to change"


def project_patch(cmd: commands_pb2.UpdateProject) -> ProjectPatch:
    patch = ProjectPatch(
        name=cmd.name if cmd.HasField("name") else UNSET,
        description=cmd.description if cmd.HasField("description") else UNSET,
        status=(
            pb_enums.from_pb_project_status(cmd.status, "status")
            if cmd.HasField("status")
            else UNSET
        ),
    )
    return _changing(patch, "name")


def work_item_patch(cmd: commands_pb2.UpdateWorkItem) -> WorkItemPatch:
    title = cmd.title if cmd.HasField("title") else UNSET
    description = cmd.description if cmd.HasField("description") else UNSET
    position = cmd.position if cmd.HasField("position") else UNSET
    item_type = pb_enums.from_pb_work_item_type(cmd.type, "type") if cmd.HasField("type") else UNSET
    status = (
        pb_enums.from_pb_work_item_status(cmd.status, "status") if cmd.HasField("status") else UNSET
    )
    priority = (
        pb_enums.from_pb_priority(cmd.priority, "priority") if cmd.HasField("priority") else UNSET
    )
    story_points = _int_or_clear(
        "story_points",
        cmd.story_points if cmd.HasField("story_points") else None,
        clear=cmd.clear_story_points,
        contradiction="story_points and clear_story_points contradict",
    )
    patch = WorkItemPatch(
        title=title,
        description=description,
        type=item_type,
        status=status,
        priority=priority,
        story_points=story_points,
        position=position,
        # For the nullable ids "" clears: orphan, backlog, unassigned.
        parent_id=id_or_none(cmd.parent_id) if cmd.HasField("parent_id") else UNSET,
        sprint_id=id_or_none(cmd.sprint_id) if cmd.HasField("sprint_id") else UNSET,
        assignee_id=id_or_none(cmd.assignee_id) if cmd.HasField("assignee_id") else UNSET,
    )
    return _changing(patch, "item_id")


def sprint_patch(cmd: commands_pb2.UpdateSprint) -> SprintPatch:
    patch = SprintPatch(
        name=cmd.name if cmd.HasField("name") else UNSET,
        goal=cmd.goal if cmd.HasField("goal") else UNSET,
        starts_at=_time_or_clear(cmd, "starts_at", clear=cmd.clear_starts_at),
        ends_at=_time_or_clear(cmd, "ends_at", clear=cmd.clear_ends_at),
    )
    return _changing(patch, "name")


def swim_lane_patch(cmd: commands_pb2.UpdateSwimLane) -> SwimLanePatch:
    wip_limit = _int_or_clear(
        "wip_limit",
        cmd.wip_limit if cmd.HasField("wip_limit") else None,
        clear=cmd.clear_wip_limit,
        contradiction="send either wip_limit or clear_wip_limit",
    )
    patch = SwimLanePatch(
        name=cmd.name if cmd.HasField("name") else UNSET,
        status=(
            pb_enums.from_pb_work_item_status(cmd.status, "status")
            if cmd.HasField("status")
            else UNSET
        ),
        position=cmd.position if cmd.HasField("position") else UNSET,
        wip_limit=wip_limit,
    )
    return _changing(patch, "name")


def time_entry_patch(cmd: commands_pb2.UpdateTimeEntry) -> TimeEntryPatch:
    # The command has no way to clear ended_at: an absent time is no change.
    started_at = get_time(cmd, "started_at")
    ended_at = get_time(cmd, "ended_at")
    patch = TimeEntryPatch(
        started_at=UNSET if started_at is None else started_at,
        ended_at=UNSET if ended_at is None else ended_at,
        note=cmd.note if cmd.HasField("note") else UNSET,
    )
    return _changing(patch, "note")


def llm_context_patch(cmd: commands_pb2.UpdateLlmContext) -> LlmContextPatch:
    patch = LlmContextPatch(
        context_type=(
            pb_enums.from_pb_llm_context_type(cmd.context_type, "context_type")
            if cmd.HasField("context_type")
            else UNSET
        ),
        category=cmd.category if cmd.HasField("category") else UNSET,
        title=cmd.title if cmd.HasField("title") else UNSET,
        content=cmd.content if cmd.HasField("content") else UNSET,
        # "" clears the example.
        example_sql=(cmd.example_sql or None) if cmd.HasField("example_sql") else UNSET,
        priority=cmd.priority if cmd.HasField("priority") else UNSET,
    )
    return _changing(patch, "title")


def _changing(patch: P, field: str) -> P:
    """``patch``, unless it changes nothing: then a VALIDATION_ERROR on ``field``."""
    if patch.is_empty():
        raise ValidationError(field, _NOTHING_TO_CHANGE)
    return patch


def id_or_none(value: str) -> str | None:
    """A nullable id as the protocol sends it: "" means none."""
    return value or None


def _int_or_clear(
    field: str, sent: int | None, *, clear: bool, contradiction: str
) -> int | Unset | None:
    """The number ``field`` sets (``sent``, None when absent), None when its ``clear_*``
    flag is on, else UNSET."""
    if sent is not None:
        if clear:
            raise ValidationError(field, contradiction)
        return sent
    return None if clear else UNSET


def _time_or_clear(
    cmd: commands_pb2.UpdateSprint, field: str, *, clear: bool
) -> datetime | Unset | None:
    """The time ``field`` sets, None when its ``clear_*`` flag is on, else UNSET."""
    value = get_time(cmd, field)
    if clear and value is not None:
        raise ValidationError(field, f"set {field} or clear it, not both")
    if clear:
        return None
    return UNSET if value is None else value
