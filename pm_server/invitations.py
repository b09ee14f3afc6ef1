"""Inviting a user, written once for ``invite_user`` and ``pm tenant create --admin-email``.

The invited user row, its account without a password, and one invitation whose
token (``pmi.<tenant>.<id>.<secret>``) exists only in the returned
:class:`Invited`: the database keeps its sha256. The link carries the token in
its fragment, which browsers never send to a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pm_auth.secrets import SecretKind, new_secret
from pm_core.directory import default_display_name, email_key
from pm_core.enums import UserKind
from pm_core.errors import DuplicateError
from pm_core.models import User
from pm_db.codec import new_id
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Invited:
    user: User
    invitation_id: str
    expires_at: datetime
    token: str = field(repr=False)
    link: str = field(repr=False)

    @property
    def user_id(self) -> str:
        return self.user.id


def invitation_link(base_url: str, token: str) -> str:
    return f"{base_url}/accept#token={token}"


def invite(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    email: str,
    display_name: str | None,
    tenant_admin: bool,
    invited_by: str | None,
    lifetime: timedelta,
    base_url: str,
) -> Invited:
    """Invite ``email`` (CONFLICT if its user signed up already; a pending one is invited
    again, its earlier invitation revoked)."""
    key = email_key(email)
    account = uow.invitations.account_of(key)
    if account is not None and account[1]:
        raise DuplicateError("user", "email")
    if account is not None:
        user = uow.users.get(account[0])
    else:
        user = uow.users.upsert(
            user_id=new_id(),
            display_name=(display_name or "").strip() or default_display_name(email),
            email=email.strip(),
            is_tenant_admin=tenant_admin,
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
    return Invited(
        user,
        invitation.id,
        invitation.expires_at,
        secret.token,
        invitation_link(base_url, secret.token),
    )


def provision_tenant(
    paths: TenantPaths,
    tenant_id: str,
    *,
    admin_email: str,
    admin_name: str | None,
    lifetime: timedelta,
    base_url: str,
) -> Invited:
    """Create ``tenant_id`` with its first admin invited (TenantExistsError if it exists)."""
    email_key(admin_email)  # a bad email is refused before anything is created
    return create_tenant(
        paths,
        tenant_id,
        lambda uow: invite(
            uow,
            tenant_id=tenant_id,
            email=admin_email,
            display_name=admin_name,
            tenant_admin=True,
            invited_by=None,
            lifetime=lifetime,
            base_url=base_url,
        ),
    )
