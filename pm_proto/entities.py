"""pm_core entities -> ``pm.v1`` entity messages.

:func:`to_pb` converts any entity to its message field by field, from the
message's descriptor: a field of the same name in the model, a Timestamp from
an aware datetime, an enum value through the pair of the same name
(:mod:`pm_proto.enums`), None as absent. So a new entity needs no converter
here, only its message in the schema. The server only ever sends entities (in
replies, events and CONFLICT errors); it never reads one, so there is no way
back here (the tests hold the decoders that prove a round trip loses nothing).

``WorkItem`` keeps a converter of its own: its ``display_key`` is derived
(filled from the project key), and it is the entity sent most (measured here:
the generic conversion costs 0.5-1 µs more per item). The named converters of
the other entities are shorthands for their call sites. The activity log's
converters (``ActivityEntry``, ``FieldChange``) live in :mod:`pm_proto.activity`
and are re-exported here. ``entity_to_pb`` and ``set_entity`` dispatch through
tables derived from the entity registry (:mod:`pm_core.registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

from google.protobuf.message import Message

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
    Webhook,
    WorkItem,
)
from pm_core.rules.lanes import LaneLoad
from pm_proto import enums
from pm_proto.activity import activity_entry_to_pb, field_change_to_pb
from pm_proto.dates import to_date_text
from pm_proto.enums import (
    to_pb_priority,
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
    "to_pb",
    "user_to_pb",
    "webhook_to_pb",
    "work_item_to_pb",
]

M = TypeVar("M", bound=Message)

_TIMESTAMP: Final = "google.protobuf.Timestamp"
#: Each enum pair by the full name of its protobuf enum.
_PAIRS: Final[Mapping[str, enums.EnumPair[Any, Any]]] = MappingProxyType(
    {
        pair.descriptor.full_name: pair
        for pair in vars(enums).values()
        if isinstance(pair, enums.EnumPair)
    }
)


_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]
_PLANS: dict[tuple[type[Model], type[Message]], _Plan] = {}


def _plan(model: type[Model], message: type[Message]) -> _Plan:
    """Each field of ``message`` that ``model`` has, with what turns the model's value
    into the field's (None: the value as it is)."""
    plan = _PLANS.get((model, message))
    if plan is None:
        fields = []
        for field in message.DESCRIPTOR.fields:
            if field.name not in model.model_fields:
                continue
            convert: Callable[[Any], Any] | None = None
            if field.message_type is not None and field.message_type.full_name == _TIMESTAMP:
                convert = to_timestamp
            elif field.enum_type is not None:
                convert = _PAIRS[field.enum_type.full_name].to_pb
            fields.append((field.name, convert))
        plan = _PLANS[(model, message)] = tuple(fields)
    return plan


def to_pb(entity: Model, message: type[M]) -> M:
    """``entity`` as ``message``: every field of the message from the model's field of the
    same name (None: absent). A field the model lacks, such as a derived one, stays unset."""
    values = entity.__dict__
    fields: dict[str, Any] = {}
    for name, convert in _plan(type(entity), message):
        value = values[name]
        fields[name] = value if convert is None or value is None else convert(value)
    return message(**fields)


def user_to_pb(user: User) -> pb.User:
    return to_pb(user, pb.User)


def project_to_pb(project: Project) -> pb.Project:
    return to_pb(project, pb.Project)


def project_member_to_pb(member: ProjectMember) -> pb.ProjectMember:
    return to_pb(member, pb.ProjectMember)


def sprint_to_pb(sprint: Sprint) -> pb.Sprint:
    return to_pb(sprint, pb.Sprint)


def comment_to_pb(comment: Comment) -> pb.Comment:
    return to_pb(comment, pb.Comment)


def time_entry_to_pb(entry: TimeEntry) -> pb.TimeEntry:
    return to_pb(entry, pb.TimeEntry)


def dependency_to_pb(dependency: Dependency) -> pb.Dependency:
    return to_pb(dependency, pb.Dependency)


def swim_lane_to_pb(lane: SwimLane) -> pb.SwimLane:
    return to_pb(lane, pb.SwimLane)


def lane_load_to_pb(load: LaneLoad) -> pb.LaneLoad:
    return pb.LaneLoad(lane_id=load.lane_id, item_count=load.item_count, over_limit=load.over_limit)


def llm_context_to_pb(context: LlmContext) -> pb.LlmContext:
    return to_pb(context, pb.LlmContext)


def webhook_to_pb(webhook: Webhook) -> pb.Webhook:
    """By hand: its filters are repeated enums, which :func:`to_pb` does not convert."""
    return pb.Webhook(
        id=webhook.id,
        version=webhook.version,
        created_at=to_timestamp(webhook.created_at),
        updated_at=to_timestamp(webhook.updated_at),
        name=webhook.name,
        url=webhook.url,
        secret_hint=webhook.secret_hint,
        project_ids=webhook.project_ids,
        entity_types=[enums.ENTITY_TYPE.to_pb(t) for t in webhook.entity_types],
        actions=[enums.ACTION.to_pb(a) for a in webhook.actions],
        state=enums.WEBHOOK_STATE.to_pb(webhook.state),
        acked_seq=webhook.acked_seq,
        consecutive_failures=webhook.consecutive_failures,
        last_error=webhook.last_error,
        created_by=webhook.created_by,
        deleted_at=None if webhook.deleted_at is None else to_timestamp(webhook.deleted_at),
    )


def work_item_to_pb(item: WorkItem, project_key: str) -> pb.WorkItem:
    """``display_key`` is ``KEY-<item_number>``, or empty when ``project_key`` is ""."""
    return pb.WorkItem(
        id=item.id,
        version=item.version,
        created_at=to_timestamp(item.created_at),
        updated_at=to_timestamp(item.updated_at),
        deleted_at=None if item.deleted_at is None else to_timestamp(item.deleted_at),
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
        start_date=None if item.start_date is None else to_date_text(item.start_date),
        due_date=None if item.due_date is None else to_date_text(item.due_date),
        display_key=format_display_key(project_key, item.item_number) if project_key else "",
    )


# ---- dispatch --------------------------------------------------------------

# Every entity of the registry with a message of its name in the schema (a test names an
# entity without one), and the activity log's rows, which have converters of their own.
_MESSAGES: Final[Mapping[type[Model], type[Message]]] = MappingProxyType(
    {
        spec.model: getattr(pb, spec.model.__name__)
        for spec in registry.ENTITIES
        if spec.model.__name__ in pb.DESCRIPTOR.message_types_by_name
    }
)
_CONVERTERS: Final[Mapping[type[Model], Callable[[Any], Message]]] = MappingProxyType(
    {
        ActivityEntry: activity_entry_to_pb,
        FieldChange: field_change_to_pb,
        Webhook: webhook_to_pb,
    }
)

# The field each published entity takes in a oneof that names entities
# (``Event.entity``, ``Error.current``): the registry's name for it.
ONEOF_FIELDS: Final[dict[type[Model], str]] = {
    spec.model: spec.name for spec in registry.ENTITIES if spec.published
}


def entity_to_pb(model: Model, *, project_key: str = "") -> Message:
    """The message for any pm_core entity; ``project_key`` only matters for a WorkItem."""
    if isinstance(model, WorkItem):
        return work_item_to_pb(model, project_key)
    message = _MESSAGES.get(type(model))
    if message is not None:
        return to_pb(model, message)
    converter = _CONVERTERS.get(type(model))
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
