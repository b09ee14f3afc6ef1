"""The tenant scope of a subscription: tenant-wide events, for every user of the tenant.

Most events belong to a project and go to that project's subscribers. Some
rows belong to the whole tenant (``llm_context`` rows without a project); their
events are stored in the same log with no project. A subscription that
includes the tenant scope receives them, in the same ``seq`` order and with
the same resume and ``must_refetch`` guarantees as a project's, under the key
:data:`TENANT_SCOPE` in the hub and the session (never a project id: ids are
never empty).

Only entity types every user of the tenant may read are delivered
(:data:`READABLE`): a later tenant-scoped entity that only tenant admins may
read is added here with its own check, not by default.
"""

from __future__ import annotations

from typing import Final

from google.protobuf.message import DecodeError

from pm_core.enums import EntityType
from pm_proto import enums as pb_enums
from pm_proto.v1 import events_pb2

#: The subscription key of the tenant scope (a project id is never empty).
TENANT_SCOPE: Final = ""

#: Tenant-wide entity types that every user of the tenant may read.
READABLE: Final = frozenset({EntityType.LLM_CONTEXT})
_READABLE_PB: Final = frozenset(pb_enums.to_pb_entity_type(t) for t in READABLE)


def scope_of(project_id: str | None, entity_type: EntityType) -> str | None:
    """Where an event of this change is delivered: its project, the tenant scope, or
    nowhere (None: a tenant-wide row that not every user may read)."""
    if project_id is not None:
        return project_id
    return TENANT_SCOPE if entity_type in READABLE else None


def readable(payload: bytes) -> bool:
    """Whether a stored tenant-wide event may be replayed to the tenant scope."""
    try:
        event = events_pb2.Event.FromString(payload)
    except DecodeError:
        return False
    return event.entity_type in _READABLE_PB
