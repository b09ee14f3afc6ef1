"""Invitations: inviting (written once for ``invite_user`` and ``pm tenant create
--admin-email``) and accepting (``POST /v1/auth/accept``).

Inviting writes the invited user row, its account without a password, and one
invitation whose token (``pmi.<tenant>.<id>.<secret>``) exists only in the
returned :class:`Invited`: the database keeps its sha256. The link carries the
token in its fragment, which browsers never send to a server.

Accepting (:func:`accept_invitation`) sets the account's first password through
the accounts repository, marks the invitation accepted and starts a session
with the one session-issuing function of sign-in, all in one write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from pm_auth.secrets import OpaqueSecret, SecretKind, hash_secret, matches, new_secret
from pm_core.directory import default_display_name, email_key
from pm_core.enums import UserKind
from pm_core.errors import DuplicateError
from pm_core.models import User
from pm_db.codec import new_id
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.unit_of_work import UnitOfWork
from pm_server.auth.sessions import IssuedSession, SessionConfig, issue_session

#: Compared against when no invitation has the presented id, so that an unknown id
#: costs the same hash and comparison as a known one.
_NO_HASH: Final = hash_secret("")


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
    account = uow.accounts.find_by_email(key)
    if account is not None and account.can_sign_in:
        raise DuplicateError("user", "email")
    if account is not None:
        user = uow.users.get(account.user_id)
    else:
        user = uow.users.upsert(
            user_id=new_id(),
            display_name=(display_name or "").strip() or default_display_name(email),
            email=email.strip(),
            is_tenant_admin=tenant_admin,
            kind=UserKind.HUMAN,
        )
        uow.accounts.create(user_id=user.id, email=key)
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


def accept_invitation(
    uow: UnitOfWork,
    config: SessionConfig,
    presented: OpaqueSecret,
    password_hash: str,
) -> IssuedSession | None:
    """Set the invited account's first password and start its session, in the current
    write; None (nothing written) when the token opens nothing: unknown, forged, spent,
    revoked or expired, or its account signs in already. The caller says all alike."""
    found = uow.invitations.find_with_hash(presented.id)
    right = matches(presented, _NO_HASH if found is None else found[1])
    if found is None or not right:
        return None
    invitation = found[0]
    account = uow.accounts.find(invitation.user_id)
    user = uow.users.find(invitation.user_id)
    if account is None or user is None or account.can_sign_in:
        return None
    if not uow.invitations.accept(invitation.id):  # spent, revoked or expired
        return None
    uow.accounts.set_password(account, password_hash)
    return issue_session(uow, config, presented.tenant_id, user)
