"""llm_context: documentation rows that AI agents read and write.

A row belongs to one project, or to the whole tenant (no ``project_id``).

Roles per command:

- Project rows: viewers read (``list_llm_context``), editors create, update
  and delete. A caller outside the project gets NOT_FOUND naming the project
  (create, list) or the row (update, delete).
- Tenant-wide rows: every user of the tenant reads them; only tenant admins
  create, update or delete them (FORBIDDEN otherwise, since everyone can see
  the row).

``list_llm_context`` without ``project_id`` returns the tenant-wide rows only;
with one, that project's rows plus the tenant-wide ones unless
``exclude_global``. ``limit`` 0 means :data:`DEFAULT_LIMIT`; above
:data:`MAX_LIMIT` is clamped; negative is a VALIDATION_ERROR. In an update
``example_sql = ""`` clears it.

Events of project rows go to the project's subscribers. A tenant-wide row
has no project: its change is stored (activity and event log, with a NULL
project) and delivered to the subscriptions that include the tenant scope
(:mod:`pm_server.tenant_stream`), not to any project's.
"""

from __future__ import annotations

from typing import Any, Final

from pm_auth.tokens import Principal
from pm_core.enums import Action, EntityType, Role
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import LlmContext, LlmContextPatch
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto import patches as pb_patches
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate

DEFAULT_LIMIT: Final = 200
MAX_LIMIT: Final = 500


def _reply(context: LlmContext) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        llm_context=commands_pb2.LlmContextReply(context=pb_entities.llm_context_to_pb(context))
    )


def _change(action: Action, context: LlmContext, **kwargs: Any) -> Change:
    # project_id None: a tenant-wide row (a NULL project; delivered to the tenant scope).
    return Change(EntityType.LLM_CONTEXT, action, context, context.project_id, **kwargs)


def _load_for_write(uow: UnitOfWork, principal: Principal, context_id: str) -> LlmContext:
    """The live row, if the caller may change it; project rows hidden from non-members."""
    context = uow.llm_context.get(context_id)
    if context.project_id is None:
        access.require_tenant_admin(principal)
        return context
    try:
        access.project(uow, principal, context.project_id, Role.EDITOR)
    except NotFoundError as exc:  # name what was asked for, not the hidden project
        raise NotFoundError("llm_context", context_id) from exc
    return context


async def list_llm_context(ctx: Context, cmd: commands_pb2.ListLlmContext) -> envelope_pb2.Reply:
    if cmd.limit < 0:
        raise ValidationError("limit", "limit must not be negative")
    limit = min(cmd.limit or DEFAULT_LIMIT, MAX_LIMIT)
    types = [pb_enums.from_pb_llm_context_type(t, "types") for t in cmd.types] or None
    category = cmd.category if cmd.HasField("category") else None
    project_id = cmd.project_id if cmd.HasField("project_id") else None
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        if project_id is not None:
            access.project(uow, principal, project_id, Role.VIEWER)
        contexts = uow.llm_context.list(
            project_id=project_id,
            include_global=project_id is None or not cmd.exclude_global,
            context_types=types,
            category=category,
            limit=limit,
        )
        return envelope_pb2.Reply(
            llm_contexts=commands_pb2.LlmContextList(
                contexts=[pb_entities.llm_context_to_pb(c) for c in contexts],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


async def create_llm_context(ctx: Context, cmd: commands_pb2.CreateLlmContext) -> bytes:
    context_type = pb_enums.from_pb_llm_context_type(cmd.context_type, "context_type")
    project_id = cmd.project_id if cmd.HasField("project_id") else None
    principal = ctx.principal
    if project_id is None:
        access.require_tenant_admin(principal)

    def unit(uow: UnitOfWork) -> Mutation:
        if project_id is not None:
            access.project(uow, principal, project_id, Role.EDITOR)
        context = uow.llm_context.create(
            project_id=project_id,
            context_type=context_type,
            category=cmd.category,
            title=cmd.title,
            content=cmd.content,
            example_sql=cmd.example_sql if cmd.HasField("example_sql") else None,
            priority=cmd.priority if cmd.HasField("priority") else 50,
            created_by=principal.user_id,
        )
        return Mutation(_reply(context), _change(Action.CREATED, context))

    return await mutate(ctx, unit)


async def update_llm_context(ctx: Context, cmd: commands_pb2.UpdateLlmContext) -> bytes:
    patch = pb_patches.patch_of(cmd, LlmContextPatch)
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        current = _load_for_write(uow, principal, cmd.context_id)
        updated = uow.llm_context.update(current.id, cmd.expected_version or None, patch)
        change = _change(Action.UPDATED, updated.entity, changes=updated.changes)
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def delete_llm_context(ctx: Context, cmd: commands_pb2.DeleteLlmContext) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        current = _load_for_write(uow, principal, cmd.context_id)
        deleted = uow.llm_context.soft_delete(current.id, cmd.expected_version or None)
        return Mutation(_reply(deleted), _change(Action.DELETED, deleted))

    return await mutate(ctx, unit)
