"""Dependencies between work items: create, delete, list both directions.

Roles: a viewer lists; an editor creates and deletes. Both items must be
readable by the caller; an item (or dependency) of a project the caller
cannot read is NOT_FOUND naming the id they sent. The rules (same project,
not on itself, no duplicate, a per-item cap, ``blocks`` never closing a cycle
-- VALIDATION_ERROR ``dependency.cycle`` with the cycle as ``path``) are the
repository's. Dependencies are never edited: delete and create again.

Two project-wide reads answer in one command what would take a
``list_dependencies`` per item: every dependency of a project, and the blocked
items (open items with an open blocker) with their blockers. Both page with an
opaque ``after`` cursor; a malformed one is VALIDATION_ERROR ``after``.
"""

from __future__ import annotations

import uuid
from typing import Final

from pm_core.enums import Action, EntityType, Role
from pm_core.errors import ValidationError
from pm_core.keys import format_display_key
from pm_core.models import Dependency
from pm_db.repositories.dependencies import MAX_LIMIT
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate


def _reply(dependency: Dependency) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        dependency=commands_pb2.DependencyReply(dependency=pb_entities.dependency_to_pb(dependency))
    )


async def create_dependency(ctx: Context, cmd: commands_pb2.CreateDependency) -> bytes:
    principal = ctx.principal
    dependency_type = pb_enums.from_pb_dependency_type(cmd.type, "type")

    def unit(uow: UnitOfWork) -> Mutation:
        from_item = access.work_item(uow, principal, cmd.from_item_id, Role.EDITOR)
        to_item = access.work_item(uow, principal, cmd.to_item_id, Role.VIEWER)
        dependency = uow.dependencies.create(
            from_item=from_item.entity,
            to_item=to_item.entity,
            type=dependency_type,
            created_by=principal.user_id,
        )
        change = Change(EntityType.DEPENDENCY, Action.CREATED, dependency, dependency.project_id)
        return Mutation(_reply(dependency), change)

    return await mutate(ctx, unit)


async def delete_dependency(ctx: Context, cmd: commands_pb2.DeleteDependency) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        current = access.dependency(uow, principal, cmd.dependency_id, Role.EDITOR).entity
        deleted = uow.dependencies.soft_delete(current.id)
        change = Change(EntityType.DEPENDENCY, Action.DELETED, deleted, deleted.project_id)
        return Mutation(_reply(deleted), change)

    return await mutate(ctx, unit)


async def list_dependencies(ctx: Context, cmd: commands_pb2.ListDependencies) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        item = access.work_item(uow, principal, cmd.item_id, Role.VIEWER).entity
        outgoing, incoming = uow.dependencies.list_for_item(item.id)
        return envelope_pb2.Reply(
            dependencies=commands_pb2.DependencyList(
                outgoing=[pb_entities.dependency_to_pb(d) for d in outgoing],
                incoming=[pb_entities.dependency_to_pb(d) for d in incoming],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


#: A page of a project-wide read when the client names no limit.
DEFAULT_LIMIT: Final = 500


def _limit(limit: int) -> int:
    if not 0 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"limit must be between 0 and {MAX_LIMIT}")
    return limit or DEFAULT_LIMIT


def _bad_after() -> ValidationError:
    return ValidationError("after", "after must be the next_after of a previous page")


async def list_project_dependencies(
    ctx: Context, cmd: commands_pb2.ListProjectDependencies
) -> envelope_pb2.Reply:
    principal = ctx.principal
    limit = _limit(cmd.limit)
    types = [pb_enums.from_pb_dependency_type(t, "types") for t in cmd.types] or None
    # The cursor is the last dependency's id (a UUID): anything else is not one of ours.
    if cmd.after:
        try:
            uuid.UUID(cmd.after)
        except ValueError as exc:
            raise _bad_after() from exc

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        project = access.project(uow, principal, cmd.project_id, Role.VIEWER)
        found = uow.dependencies.list_for_project(
            project.id, types=types, after=cmd.after, limit=limit
        )
        linked = {d.from_item_id for d in found} | {d.to_item_id for d in found}
        numbers = uow.dependencies.item_numbers(linked)
        return envelope_pb2.Reply(
            project_dependencies=commands_pb2.ProjectDependencyList(
                dependencies=[pb_entities.dependency_to_pb(d) for d in found],
                display_keys={
                    item_id: format_display_key(project.key, number)
                    for item_id, number in numbers.items()
                },
                seq=uow.events.latest_seq(),
                next_after=found[-1].id if len(found) == limit else "",
            )
        )

    return await ctx.db.read(read)


async def list_blocked_items(
    ctx: Context, cmd: commands_pb2.ListBlockedItems
) -> envelope_pb2.Reply:
    principal = ctx.principal
    limit = _limit(cmd.limit)
    after = 0
    if cmd.after:
        # The cursor is the last item's number.
        if not (cmd.after.isascii() and cmd.after.isdigit()) or len(cmd.after) > 18:
            raise _bad_after()
        after = int(cmd.after)

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        project = access.project(uow, principal, cmd.project_id, Role.VIEWER)
        found = uow.dependencies.blocked(project.id, after=after, limit=limit)
        return envelope_pb2.Reply(
            blocked_items=commands_pb2.BlockedItemList(
                items=[
                    commands_pb2.BlockedItem(
                        item=pb_entities.work_item_to_pb(item, project.key),
                        blockers=[pb_entities.work_item_to_pb(b, project.key) for b in blockers],
                    )
                    for item, blockers in found
                ],
                seq=uow.events.latest_seq(),
                next_after=str(found[-1][0].item_number) if len(found) == limit else "",
            )
        )

    return await ctx.db.read(read)
