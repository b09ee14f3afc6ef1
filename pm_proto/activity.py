"""The activity log's rows (``ActivityEntry``, ``FieldChange``) <-> ``pm.v1`` messages.

Old and new values are arbitrary JSON-compatible values; they travel as JSON
text (``old_json``/``new_json``) in one canonical form: no ASCII escaping,
no spaces, sorted keys, ``"null"`` for None. An empty string (what a peer that
never set the field sends) reads as None; text that is not JSON is a
ValidationError naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from pm_core.errors import ValidationError
from pm_core.models import ActivityEntry, FieldChange
from pm_core.validation import build
from pm_proto.enums import from_pb_action, from_pb_entity_type, to_pb_action, to_pb_entity_type
from pm_proto.timestamps import get_time, to_timestamp
from pm_proto.v1 import entities_pb2 as pb


def to_json(value: Any) -> str:
    """``value`` as canonical JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def from_json(text: str, field: str) -> Any:
    """The value of JSON ``text``; "" is None, anything but JSON a ValidationError."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(field, f"{field}: not valid JSON") from exc


def field_change_to_pb(change: FieldChange) -> pb.FieldChange:
    return pb.FieldChange(
        field=change.field, old_json=to_json(change.old), new_json=to_json(change.new)
    )


def field_change_from_pb(msg: pb.FieldChange) -> FieldChange:
    return build(
        FieldChange,
        {
            "field": msg.field,
            "old": from_json(msg.old_json, "old_json"),
            "new": from_json(msg.new_json, "new_json"),
        },
    )


def activity_entry_to_pb(entry: ActivityEntry) -> pb.ActivityEntry:
    return pb.ActivityEntry(
        id=entry.id,
        project_id=entry.project_id,
        entity_type=to_pb_entity_type(entry.entity_type),
        entity_id=entry.entity_id,
        action=to_pb_action(entry.action),
        field=entry.field,
        old_json=to_json(entry.old_value),
        new_json=to_json(entry.new_value),
        actor_id=entry.actor_id,
        created_at=to_timestamp(entry.created_at),
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
