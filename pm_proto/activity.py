"""The activity log's rows (``ActivityEntry``, ``FieldChange``) -> ``pm.v1`` messages.

Old and new values are arbitrary JSON-compatible values; they travel as JSON
text (``old_json``/``new_json``) in one canonical form: no ASCII escaping,
no spaces, sorted keys, ``"null"`` for None.
"""

from __future__ import annotations

import json
from typing import Any

from pm_core.enums import UserKind
from pm_core.models import ActivityEntry, FieldChange
from pm_proto.enums import to_pb_action, to_pb_entity_type, to_pb_user_kind
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import entities_pb2 as pb


def to_json(value: Any) -> str:
    """``value`` as canonical JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def field_change_to_pb(change: FieldChange) -> pb.FieldChange:
    return pb.FieldChange(
        field=change.field, old_json=to_json(change.old), new_json=to_json(change.new)
    )


def activity_entry_to_pb(
    entry: ActivityEntry, actor_kind: UserKind | None = None
) -> pb.ActivityEntry:
    """``actor_kind``: the actor's kind (person or agent), read from its user row."""
    message = pb.ActivityEntry(
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
    if actor_kind is not None:  # absent: the actor's user row is gone
        message.actor_kind = to_pb_user_kind(actor_kind)
    return message
