"""The activity log (audit trail), per project or per entity, newest first.

``list_activity`` is a read: the caller needs the viewer role in the project
the entries belong to. For an entity, that project is found from the live
entity, or, for an entity already deleted, from its own history, so the
audit trail of a deleted item stays readable to the project's members. Rows
of tenant-wide entities (an ``llm_context`` row without a project, a user)
are readable by every user of the tenant, as the entities themselves are.
A caller outside the project, or an entity that is unknown, gets NOT_FOUND
naming what was asked for.

Paging is keyset: ``before_id`` is the last id of the previous page
(ids are time ordered). ``limit`` 0 means :data:`DEFAULT_LIMIT`; larger than
:data:`MAX_LIMIT` is clamped; negative is a VALIDATION_ERROR on ``limit``.
"""

from __future__ import annotations

from typing import Final

from pm_auth.tokens import Principal
from pm_core.enums import EntityType, Role
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import ActivityEntry
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500


def _limit(requested: int) -> int:
    if requested < 0:
        raise ValidationError("limit", "limit must not be negative")
    return min(requested or DEFAULT_LIMIT, MAX_LIMIT)


def _project_of(uow: UnitOfWork, entity_type: EntityType, entity_id: str) -> str | None:
    """The project the entity belongs to (None: tenant-wide); NOT_FOUND when unknown."""
    live = uow.live_rows.find(entity_type, entity_id)
    if live is not None:
        return live.project_id
    newest = uow.activity.list_for_entity(entity_type, entity_id, limit=1)
    if not newest:
        raise NotFoundError(str(entity_type), entity_id)
    return newest[0].project_id


def _entity_entries(
    uow: UnitOfWork,
    principal: Principal,
    ref: commands_pb2.EntityRef,
    limit: int,
    before_id: str | None,
) -> list[ActivityEntry]:
    entity_type = pb_enums.from_pb_entity_type(ref.type, "entity.type")
    if not ref.id:
        raise ValidationError("entity.id", "name the entity by its id")
    project_id = _project_of(uow, entity_type, ref.id)
    if project_id is not None:
        try:
            access.project(uow, principal, project_id, Role.VIEWER)
        except NotFoundError as exc:  # name what was asked for, not the hidden project
            raise NotFoundError(str(entity_type), ref.id) from exc
    return uow.activity.list_for_entity(entity_type, ref.id, limit=limit, before_id=before_id)


async def list_activity(ctx: Context, cmd: commands_pb2.ListActivity) -> envelope_pb2.Reply:
    principal = ctx.principal
    scope = cmd.WhichOneof("scope")
    if scope is None:
        raise ValidationError("project_id", "name a project_id or an entity")
    limit = _limit(cmd.limit)
    before_id = cmd.before_id or None

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if scope == "entity":
            entries = _entity_entries(uow, principal, cmd.entity, limit, before_id)
        else:
            access.project(uow, principal, cmd.project_id, Role.VIEWER)
            entries = uow.activity.list_for_project(
                cmd.project_id, limit=limit, before_id=before_id
            )
        kinds = uow.activity.actor_kinds(entries)
        return envelope_pb2.Reply(
            activity=commands_pb2.ActivityList(
                entries=[
                    pb_entities.activity_entry_to_pb(e, kinds.get(e.actor_id or ""))
                    for e in entries
                ],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)
