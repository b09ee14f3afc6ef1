"""Turning one committed change into its activity rows and its encoded event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message

from pm_core.enums import Action, EntityType, UserKind
from pm_core.models import Entity, FieldChange, WorkItem
from pm_core.rules.lanes import LaneLoad
from pm_db.cascades import Cascaded
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import entities_pb2, events_pb2


@dataclass(frozen=True, slots=True)
class Change:
    """What one mutation did: enough for the activity log and the event."""

    entity_type: EntityType
    action: Action
    entity: Entity
    #: None for tenant-wide rows (stored in the event log, published to no project).
    project_id: str | None
    changes: Sequence[FieldChange] = ()
    cascaded_ids: Sequence[str] = ()
    #: For work items: the project key, so the event carries the display key.
    project_key: str = ""
    #: The entity's message when the handler already built it (for its reply): the event
    #: takes it as is instead of building it again.
    message: Message | None = None
    #: For a work item moved into a lane (its status changed): that lane's load after it.
    lane_load: LaneLoad | None = None


def deleted_along(cascaded: Iterable[Cascaded], project_key: str = "") -> tuple[Change, ...]:
    """A change of its own for each row a delete took along (its event and activity)."""
    return tuple(
        Change(
            entity_type,
            Action.DELETED,
            entity,
            getattr(entity, "project_id", None),
            project_key=project_key if entity_type is EntityType.WORK_ITEM else "",
        )
        for entity_type, entity in cascaded
    )


def released_from_sprint(
    items: Iterable[WorkItem], sprint_id: str, project_key: str, to_sprint_id: str | None = None
) -> tuple[Change, ...]:
    """An update of its own for each item a deleted or ended sprint gave away (to the
    backlog, or to ``to_sprint_id``)."""
    moved = (FieldChange(field="sprint_id", old=sprint_id, new=to_sprint_id),)
    return tuple(
        Change(
            EntityType.WORK_ITEM,
            Action.UPDATED,
            item,
            item.project_id,
            moved,
            project_key=project_key,
        )
        for item in items
    )


def encode_event(
    change: Change,
    *,
    seq: int,
    actor_id: str,
    now: datetime,
    actor_kind: UserKind = UserKind.HUMAN,
) -> bytes:
    """The pm.v1.Event of ``change`` at ``seq``, encoded once for storage and fan-out."""
    event = events_pb2.Event(
        seq=seq,
        project_id=change.project_id or "",
        actor_id=actor_id,
        actor_kind=pb_enums.to_pb_user_kind(actor_kind),
        occurred_at=to_timestamp(now),
        entity_type=pb_enums.to_pb_entity_type(change.entity_type),
        entity_id=change.entity.id,
        action=pb_enums.to_pb_action(change.action),
        changes=[_field_change(c) for c in change.changes],
        cascaded_ids=list(change.cascaded_ids),
    )
    if change.lane_load is not None:
        event.lane_load.CopyFrom(pb_entities.lane_load_to_pb(change.lane_load))
    if change.message is None:
        pb_entities.set_entity(event, change.entity, project_key=change.project_key)
    else:
        getattr(event, pb_entities.ONEOF_FIELDS[type(change.entity)]).CopyFrom(change.message)
    return event.SerializeToString()


def _field_change(change: FieldChange) -> entities_pb2.FieldChange:
    return pb_entities.field_change_to_pb(change)
