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

from pm_auth.secrets import SecretKind, new_secret
from pm_core.directory import default_display_name, email_key
from pm_core.enums import UserKind
from pm_core.errors import DuplicateError, ValidationError
from pm_db.codec import new_id
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import timestamps
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
QUERY_MAX: Final = 200


def invitation_link(base_url: str, token: str) -> str:
    """Where the invited person goes; the token rides in the fragment (never sent to a
    server, so never in an access log)."""
    return f"{base_url}/accept#token={token}"


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
    key = email_key(cmd.email)
    tenant_id = ctx.tenant_id
    invited_by = ctx.user_id
    lifetime = timedelta(hours=settings.invitation_hours)

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        account = uow.invitations.account_of(key)
        if account is not None and account[1]:
            raise DuplicateError("user", "email")
        if account is not None:
            user = uow.users.get(account[0])
        else:
            name = cmd.display_name if cmd.HasField("display_name") else ""
            user = uow.users.upsert(
                user_id=new_id(),
                display_name=name.strip() or default_display_name(cmd.email),
                email=cmd.email.strip(),
                is_tenant_admin=cmd.tenant_admin,
                kind=UserKind.HUMAN,
            )
            uow.invitations.create_pending_account(user.id, key)
        invitation_id = new_id()
        secret = new_secret(SecretKind.INVITATION, tenant_id, invitation_id)
        invitation = uow.invitations.create(
            invitation_id=invitation_id,
            user_id=user.id,
            email_key=key,
            token_hash=secret.hash,
            invited_by=invited_by,
            expires_at=uow.now + lifetime,
        )
        return envelope_pb2.Reply(
            invitation=commands_pb2.InvitationReply(
                user=pb_entities.user_to_pb(user),
                invitation_id=invitation.id,
                token=secret.token,
                link=invitation_link(settings.base_url, secret.token),
                expires_at=timestamps.to_timestamp(invitation.expires_at),
            )
        )

    return await ctx.db.write(unit)
