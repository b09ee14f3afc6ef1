"""pm_core entities -> ``pm.v1`` entity messages.

One converter per entity, ``<name>_to_pb(model)``. Optional fields map None to
absent. ``WorkItem.display_key`` is derived: filled from the project key.
The server only ever sends entities (in replies, events and CONFLICT errors);
it never reads one, so there is no way back here (the tests hold the decoders
that prove a round trip loses nothing).

The activity log's converters (``ActivityEntry``, ``FieldChange``) live in
:mod:`pm_proto.activity` and are re-exported here. ``entity_to_pb`` dispatches
through a literal table; ``set_entity`` finds an entity's oneof field through
the entity registry (:mod:`pm_core.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_core import registry
from pm_core.keys import format_display_key
from pm_core.models import (
    ActivityEntry,
    Comment,
    Dependency,
    FieldChange,
    LlmContext,
    Model,
    Project,
    ProjectMember,
    Sprint,
    SwimLane,
    TimeEntry,
    User,
    WorkItem,
)
from pm_proto.activity import activity_entry_to_pb, field_change_to_pb
from pm_proto.enums import (
    to_pb_dependency_type,
    to_pb_llm_context_type,
    to_pb_priority,
    to_pb_project_status,
    to_pb_role,
    to_pb_sprint_status,
    to_pb_work_item_status,
    to_pb_work_item_type,
)
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import entities_pb2 as pb

__all__ = [
    "ONEOF_FIELDS",
    "activity_entry_to_pb",
    "comment_to_pb",
    "dependency_to_pb",
    "entity_to_pb",
    "field_change_to_pb",
    "llm_context_to_pb",
    "project_member_to_pb",
    "project_to_pb",
    "set_entity",
    "sprint_to_pb",
    "swim_lane_to_pb",
    "time_entry_to_pb",
    "user_to_pb",
    "work_item_to_pb",
]


def _ts(dt: datetime | None) -> Timestamp | None:
    return None if dt is None else to_timestamp(dt)


# ---- users and projects ----------------------------------------------------


def user_to_pb(user: User) -> pb.User:
    return pb.User(
        id=user.id,
        version=user.version,
        created_at=to_timestamp(user.created_at),
        updated_at=to_timestamp(user.updated_at),
        deleted_at=_ts(user.deleted_at),
        display_name=user.display_name,
        email=user.email,
        is_tenant_admin=user.is_tenant_admin,
    )


def project_to_pb(project: Project) -> pb.Project:
    return pb.Project(
        id=project.id,
        version=project.version,
        created_at=to_timestamp(project.created_at),
        updated_at=to_timestamp(project.updated_at),
        deleted_at=_ts(project.deleted_at),
        key=project.key,
        name=project.name,
        description=project.description,
        status=to_pb_project_status(project.status),
        created_by=project.created_by,
    )


def project_member_to_pb(member: ProjectMember) -> pb.ProjectMember:
    return pb.ProjectMember(
        id=member.id,
        version=member.version,
        created_at=to_timestamp(member.created_at),
        updated_at=to_timestamp(member.updated_at),
        deleted_at=_ts(member.deleted_at),
        project_id=member.project_id,
        user_id=member.user_id,
        role=to_pb_role(member.role),
    )


# ---- work items and sprints ------------------------------------------------


def work_item_to_pb(item: WorkItem, project_key: str) -> pb.WorkItem:
    """``display_key`` is ``KEY-<item_number>``, or empty when ``project_key`` is ""."""
    return pb.WorkItem(
        id=item.id,
        version=item.version,
        created_at=to_timestamp(item.created_at),
        updated_at=to_timestamp(item.updated_at),
        deleted_at=_ts(item.deleted_at),
        project_id=item.project_id,
        item_number=item.item_number,
        type=to_pb_work_item_type(item.type),
        title=item.title,
        description=item.description,
        status=to_pb_work_item_status(item.status),
        priority=to_pb_priority(item.priority),
        story_points=item.story_points,
        position=item.position,
        parent_id=item.parent_id,
        sprint_id=item.sprint_id,
        assignee_id=item.assignee_id,
        created_by=item.created_by,
        display_key=format_display_key(project_key, item.item_number) if project_key else "",
    )


def sprint_to_pb(sprint: Sprint) -> pb.Sprint:
    return pb.Sprint(
        id=sprint.id,
        version=sprint.version,
        created_at=to_timestamp(sprint.created_at),
        updated_at=to_timestamp(sprint.updated_at),
        deleted_at=_ts(sprint.deleted_at),
        project_id=sprint.project_id,
        name=sprint.name,
        goal=sprint.goal,
        status=to_pb_sprint_status(sprint.status),
        starts_at=_ts(sprint.starts_at),
        ends_at=_ts(sprint.ends_at),
    )


# ---- comments, time entries, dependencies ----------------------------------


def comment_to_pb(comment: Comment) -> pb.Comment:
    return pb.Comment(
        id=comment.id,
        version=comment.version,
        created_at=to_timestamp(comment.created_at),
        updated_at=to_timestamp(comment.updated_at),
        deleted_at=_ts(comment.deleted_at),
        project_id=comment.project_id,
        work_item_id=comment.work_item_id,
        author_id=comment.author_id,
        body=comment.body,
    )


def time_entry_to_pb(entry: TimeEntry) -> pb.TimeEntry:
    return pb.TimeEntry(
        id=entry.id,
        version=entry.version,
        created_at=to_timestamp(entry.created_at),
        updated_at=to_timestamp(entry.updated_at),
        deleted_at=_ts(entry.deleted_at),
        project_id=entry.project_id,
        work_item_id=entry.work_item_id,
        user_id=entry.user_id,
        started_at=to_timestamp(entry.started_at),
        ended_at=_ts(entry.ended_at),
        note=entry.note,
    )


def dependency_to_pb(dependency: Dependency) -> pb.Dependency:
    return pb.Dependency(
        id=dependency.id,
        version=dependency.version,
        created_at=to_timestamp(dependency.created_at),
        updated_at=to_timestamp(dependency.updated_at),
        deleted_at=_ts(dependency.deleted_at),
        project_id=dependency.project_id,
        from_item_id=dependency.from_item_id,
        to_item_id=dependency.to_item_id,
        type=to_pb_dependency_type(dependency.type),
        created_by=dependency.created_by,
    )


# ---- swim lanes and llm_context --------------------------------------------


def swim_lane_to_pb(lane: SwimLane) -> pb.SwimLane:
    return pb.SwimLane(
        id=lane.id,
        version=lane.version,
        created_at=to_timestamp(lane.created_at),
        updated_at=to_timestamp(lane.updated_at),
        deleted_at=_ts(lane.deleted_at),
        project_id=lane.project_id,
        name=lane.name,
        status=to_pb_work_item_status(lane.status),
        position=lane.position,
        wip_limit=lane.wip_limit,
    )


def llm_context_to_pb(context: LlmContext) -> pb.LlmContext:
    return pb.LlmContext(
        id=context.id,
        version=context.version,
        created_at=to_timestamp(context.created_at),
        updated_at=to_timestamp(context.updated_at),
        deleted_at=_ts(context.deleted_at),
        project_id=context.project_id,
        context_type=to_pb_llm_context_type(context.context_type),
        category=context.category,
        title=context.title,
        content=context.content,
        example_sql=context.example_sql,
        priority=context.priority,
        created_by=context.created_by,
    )


# ---- dispatch --------------------------------------------------------------

# Every model class with a message, except WorkItem (it needs the project key).
_TO_PB: Final[dict[type[Model], Callable[[Any], Message]]] = {
    User: user_to_pb,
    Project: project_to_pb,
    ProjectMember: project_member_to_pb,
    Sprint: sprint_to_pb,
    Comment: comment_to_pb,
    TimeEntry: time_entry_to_pb,
    Dependency: dependency_to_pb,
    SwimLane: swim_lane_to_pb,
    LlmContext: llm_context_to_pb,
    ActivityEntry: activity_entry_to_pb,
    FieldChange: field_change_to_pb,
}

# The field each published entity takes in a oneof that names entities
# (``Event.entity``, ``Error.current``): the registry's name for it.
ONEOF_FIELDS: Final[dict[type[Model], str]] = {
    spec.model: spec.name for spec in registry.ENTITIES if spec.published
}


def entity_to_pb(model: Model, *, project_key: str = "") -> Message:
    """The message for any pm_core entity; ``project_key`` only matters for a WorkItem."""
    if isinstance(model, WorkItem):
        return work_item_to_pb(model, project_key)
    converter = _TO_PB.get(type(model))
    if converter is None:
        raise TypeError(f"no protobuf message for {type(model).__name__}")
    return converter(model)


def set_entity(oneof_owner: Message, model: Model, project_key: str = "") -> None:
    """Fill the field of ``oneof_owner``'s entity oneof that matches ``model``.

    ``oneof_owner`` is a message such as ``Event`` or ``Error`` whose oneof
    names entities with the field names of ``ONEOF_FIELDS``.
    """
    field = ONEOF_FIELDS.get(type(model))
    if field is None:
        raise TypeError(f"{type(model).__name__} has no field in an entity oneof")
    getattr(oneof_owner, field).CopyFrom(entity_to_pb(model, project_key=project_key))
