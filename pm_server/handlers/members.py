"""Project members: add, change role, remove (project admins only), list (any member).

Roles per command:

- ``add_member``, ``change_member_role``, ``remove_member``: admin of the
  project (or a tenant admin). An editor or viewer gets FORBIDDEN.
- ``list_members``: any member (viewer and up).

A caller who is not a member of the project gets NOT_FOUND for the project.
The user being added must be a live user of the tenant (users are provisioned
when they first connect); otherwise NOT_FOUND names the user. Adding a user
who already is a member is CONFLICT; a project never loses its last admin
(rule ``member.last_admin``, VALIDATION_ERROR on ``role``). Members are named
by ``(project_id, user_id)``; an unknown member is NOT_FOUND naming the user.
"""

from __future__ import annotations

import functools

from pm_core.enums import Action, EntityType, Role
from pm_core.models import ProjectMember
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate


def _reply(member: ProjectMember) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        member=commands_pb2.MemberReply(member=pb_entities.project_member_to_pb(member))
    )


async def add_member(ctx: Context, cmd: commands_pb2.AddMember) -> bytes:
    principal = ctx.principal
    role = pb_enums.from_pb_role(cmd.role, "role")

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.ADMIN)
        member = uow.members.add(project_id=cmd.project_id, user_id=cmd.user_id, role=role)
        change = Change(EntityType.MEMBER, Action.CREATED, member, member.project_id)
        return Mutation(_reply(member), change)

    return await mutate(ctx, unit)


async def change_member_role(ctx: Context, cmd: commands_pb2.ChangeMemberRole) -> bytes:
    principal = ctx.principal
    role = pb_enums.from_pb_role(cmd.role, "role")

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.ADMIN)
        updated = uow.members.change_role(
            cmd.project_id, cmd.user_id, cmd.expected_version or None, role
        )
        change = Change(
            EntityType.MEMBER, Action.UPDATED, updated.entity, cmd.project_id, updated.changes
        )
        return Mutation(_reply(updated.entity), change)

    return await mutate(ctx, unit)


async def remove_member(ctx: Context, cmd: commands_pb2.RemoveMember) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        access.project(uow, principal, cmd.project_id, Role.ADMIN)
        removed = uow.members.remove(cmd.project_id, cmd.user_id, cmd.expected_version or None)
        change = Change(EntityType.MEMBER, Action.DELETED, removed, cmd.project_id)
        # The removal event is the last one the removed user receives.
        stop = functools.partial(ctx.hub.drop, ctx.tenant_id, cmd.project_id, cmd.user_id)
        return Mutation(_reply(removed), change, after_commit=stop)

    return await mutate(ctx, unit)


async def list_members(ctx: Context, cmd: commands_pb2.ListMembers) -> envelope_pb2.Reply:
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        access.project(uow, principal, cmd.project_id, Role.VIEWER)
        return envelope_pb2.Reply(
            members=commands_pb2.MemberList(
                members=[
                    pb_entities.project_member_to_pb(m) for m in uow.members.list(cmd.project_id)
                ],
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)
