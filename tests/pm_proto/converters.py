"""``pm.v1`` entity messages -> pm_core models, for the tests.

The server only sends entities; it never reads one, so these decoders are not
production code. They are the inverse of :mod:`pm_proto.entities` and
:mod:`pm_proto.activity`: ``<name>_from_pb(msg)`` validates the message's
content through :func:`pm_core.validation.build`, so the round-trip tests show
that ``<name>_to_pb`` loses nothing, and the hostile-content tests that a
model refuses an unknown enum number, a title that is too long or holds NUL,
or a missing time, naming the field. Absent optional fields read as None; a
work item's ``display_key`` is derived data and is ignored. JSON values read
back from ``old_json``/``new_json``: "" is None, text that is not JSON is a
ValidationError naming the field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from pm_core.errors import ValidationError
from pm_core.models import (
    ActivityEntry,
    Comment,
    Dependency,
    FieldChange,
    ItemLabel,
    Label,
    LlmContext,
    Notification,
    Project,
    ProjectMember,
    Sprint,
    SwimLane,
    TimeEntry,
    User,
    Watch,
    Webhook,
    WorkItem,
)
from pm_core.validation import build
from pm_proto.enums import (
    from_pb_action,
    from_pb_dependency_type,
    from_pb_entity_type,
    from_pb_llm_context_type,
    from_pb_notification_reason,
    from_pb_priority,
    from_pb_project_status,
    from_pb_role,
    from_pb_sprint_status,
    from_pb_webhook_state,
    from_pb_work_item_status,
    from_pb_work_item_type,
)
from pm_proto.timestamps import get_time, to_timestamp
from pm_proto.v1 import entities_pb2 as pb


def set_time(msg: Message, field_name: str, dt: datetime | None) -> None:
    """Set the Timestamp field ``field_name`` of ``msg``, or clear it for None."""
    if dt is None:
        msg.ClearField(field_name)
    else:
        getattr(msg, field_name).CopyFrom(to_timestamp(dt))


def _times(msg: Message) -> dict[str, datetime | None]:
    """The three bookkeeping times every versioned entity carries."""
    return {
        "created_at": get_time(msg, "created_at"),
        "updated_at": get_time(msg, "updated_at"),
        "deleted_at": get_time(msg, "deleted_at"),
    }


def from_json(text: str, field: str) -> Any:
    """The value of JSON ``text``; "" is None, anything but JSON a ValidationError."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(field, f"{field}: not valid JSON") from exc


def field_change_from_pb(msg: pb.FieldChange) -> FieldChange:
    return build(
        FieldChange,
        {
            "field": msg.field,
            "old": from_json(msg.old_json, "old_json"),
            "new": from_json(msg.new_json, "new_json"),
        },
    )


def activity_entry_from_pb(msg: pb.ActivityEntry) -> ActivityEntry:
    return build(
        ActivityEntry,
        {
            "id": msg.id,
            "project_id": msg.project_id if msg.HasField("project_id") else None,
            "entity_type": from_pb_entity_type(msg.entity_type, "entity_type"),
            "entity_id": msg.entity_id,
            "action": from_pb_action(msg.action, "action"),
            "field": msg.field if msg.HasField("field") else None,
            "old_value": from_json(msg.old_json, "old_json"),
            "new_value": from_json(msg.new_json, "new_json"),
            "actor_id": msg.actor_id if msg.HasField("actor_id") else None,
            "created_at": get_time(msg, "created_at"),
        },
    )


def user_from_pb(msg: pb.User) -> User:
    return build(
        User,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "display_name": msg.display_name,
            "email": msg.email if msg.HasField("email") else None,
            "is_tenant_admin": msg.is_tenant_admin,
        },
    )


def project_from_pb(msg: pb.Project) -> Project:
    return build(
        Project,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "key": msg.key,
            "name": msg.name,
            "description": msg.description,
            "status": from_pb_project_status(msg.status, "status"),
            "created_by": msg.created_by,
        },
    )


def project_member_from_pb(msg: pb.ProjectMember) -> ProjectMember:
    return build(
        ProjectMember,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "user_id": msg.user_id,
            "role": from_pb_role(msg.role, "role"),
        },
    )


def work_item_from_pb(msg: pb.WorkItem) -> WorkItem:
    """The item; ``display_key`` is derived data and is ignored."""
    return build(
        WorkItem,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "item_number": msg.item_number,
            "type": from_pb_work_item_type(msg.type, "type"),
            "title": msg.title,
            "description": msg.description,
            "status": from_pb_work_item_status(msg.status, "status"),
            "priority": from_pb_priority(msg.priority, "priority"),
            "story_points": msg.story_points if msg.HasField("story_points") else None,
            "position": msg.position,
            "parent_id": msg.parent_id if msg.HasField("parent_id") else None,
            "sprint_id": msg.sprint_id if msg.HasField("sprint_id") else None,
            "assignee_id": msg.assignee_id if msg.HasField("assignee_id") else None,
            "created_by": msg.created_by,
            "start_date": msg.start_date if msg.HasField("start_date") else None,
            "due_date": msg.due_date if msg.HasField("due_date") else None,
        },
    )


def sprint_from_pb(msg: pb.Sprint) -> Sprint:
    return build(
        Sprint,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "name": msg.name,
            "goal": msg.goal,
            "status": from_pb_sprint_status(msg.status, "status"),
            "starts_at": get_time(msg, "starts_at"),
            "ends_at": get_time(msg, "ends_at"),
        },
    )


def comment_from_pb(msg: pb.Comment) -> Comment:
    return build(
        Comment,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "work_item_id": msg.work_item_id,
            "author_id": msg.author_id,
            "body": msg.body,
        },
    )


def time_entry_from_pb(msg: pb.TimeEntry) -> TimeEntry:
    return build(
        TimeEntry,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "work_item_id": msg.work_item_id,
            "user_id": msg.user_id,
            "started_at": get_time(msg, "started_at"),
            "ended_at": get_time(msg, "ended_at"),
            "note": msg.note,
        },
    )


def dependency_from_pb(msg: pb.Dependency) -> Dependency:
    return build(
        Dependency,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "from_item_id": msg.from_item_id,
            "to_item_id": msg.to_item_id,
            "type": from_pb_dependency_type(msg.type, "type"),
            "created_by": msg.created_by,
        },
    )


def label_from_pb(msg: pb.Label) -> Label:
    return build(
        Label,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "name": msg.name,
            "color": msg.color,
        },
    )


def item_label_from_pb(msg: pb.ItemLabel) -> ItemLabel:
    return build(
        ItemLabel,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "work_item_id": msg.work_item_id,
            "label_id": msg.label_id,
            "created_by": msg.created_by,
        },
    )


def watch_from_pb(msg: pb.Watch) -> Watch:
    return build(
        Watch,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "work_item_id": msg.work_item_id,
            "user_id": msg.user_id,
            "watching": msg.watching,
        },
    )


def notification_from_pb(msg: pb.Notification) -> Notification:
    return build(
        Notification,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "user_id": msg.user_id,
            "project_id": msg.project_id,
            "work_item_id": msg.work_item_id,
            "comment_id": msg.comment_id if msg.HasField("comment_id") else None,
            "actor_id": msg.actor_id,
            "reason": from_pb_notification_reason(msg.reason, "reason"),
            "seq": msg.seq,
            "read_at": get_time(msg, "read_at"),
        },
    )


def swim_lane_from_pb(msg: pb.SwimLane) -> SwimLane:
    return build(
        SwimLane,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id,
            "name": msg.name,
            "status": from_pb_work_item_status(msg.status, "status"),
            "position": msg.position,
            "wip_limit": msg.wip_limit if msg.HasField("wip_limit") else None,
        },
    )


def llm_context_from_pb(msg: pb.LlmContext) -> LlmContext:
    return build(
        LlmContext,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "project_id": msg.project_id if msg.HasField("project_id") else None,
            "context_type": from_pb_llm_context_type(msg.context_type, "context_type"),
            "category": msg.category,
            "title": msg.title,
            "content": msg.content,
            "example_sql": msg.example_sql if msg.HasField("example_sql") else None,
            "priority": msg.priority,
            "created_by": msg.created_by if msg.HasField("created_by") else None,
        },
    )


def webhook_from_pb(msg: pb.Webhook) -> Webhook:
    return build(
        Webhook,
        {
            "id": msg.id,
            "version": msg.version,
            **_times(msg),
            "name": msg.name,
            "url": msg.url,
            "secret_hint": msg.secret_hint,
            "project_ids": tuple(msg.project_ids),
            "entity_types": tuple(from_pb_entity_type(t, "entity_types") for t in msg.entity_types),
            "actions": tuple(from_pb_action(a, "actions") for a in msg.actions),
            "state": from_pb_webhook_state(msg.state, "state"),
            "acked_seq": msg.acked_seq,
            "consecutive_failures": msg.consecutive_failures,
            "last_error": msg.last_error if msg.HasField("last_error") else None,
            "created_by": msg.created_by if msg.HasField("created_by") else None,
        },
    )
