"""Dependencies between work items: create, delete, list both directions.

Roles: a viewer lists; an editor creates and deletes. Both items must be
readable by the caller; an item (or dependency) of a project the caller
cannot read is NOT_FOUND naming the id they sent. The rules (same project,
not on itself, no duplicate, a per-item cap, ``blocks`` never closing a cycle
-- VALIDATION_ERROR ``dependency.cycle`` with the cycle as ``path``) are the
repository's. Dependencies are never edited: delete and create again.
"""

from __future__ import annotations

from pm_core.enums import Action, EntityType, Role
from pm_core.models import Dependency
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
