"""Presence: who is looking at a project right now.

Presence lives in memory only (it is not stored in the event log and has
``seq`` 0). A user counts as present while at least one of their
connections has joined; subscribers of the project get an event when a user
arrives or leaves (leaving includes disconnecting).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pm_core.enums import Role
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context


async def _require_viewer(ctx: Context, project_id: str) -> None:
    principal = ctx.principal

    def check(uow: UnitOfWork) -> None:
        access.project(uow, principal, project_id, Role.VIEWER)

    await ctx.db.read(check)


def _present(ctx: Context, project_id: str) -> envelope_pb2.Reply:
    users = ctx.hub.present_users(ctx.tenant_id, project_id)
    return envelope_pb2.Reply(presence=commands_pb2.PresenceList(user_ids=users))


async def join_presence(ctx: Context, cmd: commands_pb2.JoinPresence) -> envelope_pb2.Reply:
    await _require_viewer(ctx, cmd.project_id)
    ctx.hub.join(ctx.tenant_id, cmd.project_id, ctx.connection, datetime.now(UTC))
    return _present(ctx, cmd.project_id)


async def leave_presence(ctx: Context, cmd: commands_pb2.LeavePresence) -> envelope_pb2.Reply:
    ctx.hub.leave(ctx.tenant_id, cmd.project_id, ctx.connection, datetime.now(UTC))
    # Leaving needs no role (a removed member may still leave); seeing who is there does.
    await _require_viewer(ctx, cmd.project_id)
    return _present(ctx, cmd.project_id)


async def list_presence(ctx: Context, cmd: commands_pb2.ListPresence) -> envelope_pb2.Reply:
    await _require_viewer(ctx, cmd.project_id)
    return _present(ctx, cmd.project_id)
