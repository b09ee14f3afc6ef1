"""The users of the tenant: ``list_users`` (anyone) and ``invite_user`` (tenant admins).

``list_users`` shows every live user with id, name, kind and whether active,
and the email only where the caller may see it (see
:mod:`pm_db.repositories.directory`); ``query`` filters for pickers, ``limit``
0 means :data:`DEFAULT_LIMIT`, above :data:`MAX_LIMIT` is clamped, negative is
a VALIDATION_ERROR.

``invite_user`` creates the invited user at once (so a project admin can add
it as a member before its first sign-in), its account without a password, and
a single-use invitation that expires after ``PM_INVITATION_HOURS``. The token
is in the reply only, as a link under ``PM_PUBLIC_URL`` (its fragment, which
browsers never send to a server): nothing keeps it, so no idempotency reply is
recorded; a retry, like any new invitation of a pending email, replaces the
earlier invitation. Inviting the email of a user who has signed up already is
CONFLICT.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from pm_core.directory import email_key
from pm_core.errors import ValidationError
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import timestamps
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.invitations import invite

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
QUERY_MAX: Final = 200


async def list_users(ctx: Context, cmd: commands_pb2.ListUsers) -> envelope_pb2.Reply:
    if cmd.limit < 0:
        raise ValidationError("limit", "limit must not be negative")
    if len(cmd.query) > QUERY_MAX:
        raise ValidationError("query", f"query must be at most {QUERY_MAX} characters")
    limit = min(cmd.limit or DEFAULT_LIMIT, MAX_LIMIT)
    principal = ctx.principal

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        entries = uow.directory.list(
            viewer_id=principal.user_id,
            viewer_is_admin=principal.is_tenant_admin,
            text=cmd.query,
            limit=limit,
        )
        return envelope_pb2.Reply(
            users=commands_pb2.UserList(
                users=[
                    commands_pb2.DirectoryUser(
                        user=pb_entities.user_to_pb(entry.user), active=entry.active
                    )
                    for entry in entries
                ]
            )
        )

    return await ctx.db.read(read)


async def invite_user(ctx: Context, cmd: commands_pb2.InviteUser) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    settings = ctx.settings
    email_key(cmd.email)  # VALIDATION_ERROR before the writer is queued
    tenant_id = ctx.tenant_id
    invited_by = ctx.user_id

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        invited = invite(
            uow,
            tenant_id=tenant_id,
            email=cmd.email,
            display_name=cmd.display_name if cmd.HasField("display_name") else None,
            tenant_admin=cmd.tenant_admin,
            invited_by=invited_by,
            lifetime=timedelta(hours=settings.invitation_hours),
            base_url=settings.base_url,
        )
        return envelope_pb2.Reply(
            invitation=commands_pb2.InvitationReply(
                user=pb_entities.user_to_pb(invited.user),
                invitation_id=invited.invitation_id,
                token=invited.token,
                link=invited.link,
                expires_at=timestamps.to_timestamp(invited.expires_at),
            )
        )

    return await ctx.db.write(unit)
