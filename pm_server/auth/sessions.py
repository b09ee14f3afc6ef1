"""Sign-in sessions: an access token plus a family of rotating refresh tokens.

:func:`issue_session` is the one place a session starts (login, password
change, invitation acceptance): it writes the first refresh token of a new
family and mints the access token, inside the caller's write transaction.
:func:`rotate` spends a presented refresh token and issues its successor; a
token presented after it was spent revokes its whole family (someone else
holds a copy), and the refusal says so.

Access tokens are HS256 JWTs signed with the server's key
(``<data_dir>/signing-key``) carrying ``sub``, ``tenant``, ``name``, ``email``,
``roles`` and ``kind``; they are not stored and cannot be revoked, which is why
they live minutes. Refresh tokens are opaque (:mod:`pm_auth.secrets`, kind
``r``), stored as hashes, and live days; each rotation gives the successor the
full lifetime again, so a session used at least once per lifetime lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pm_auth.secrets import OpaqueSecret, SecretKind, matches, new_secret
from pm_auth.tokens import mint_token
from pm_core.models import User
from pm_db.codec import new_id
from pm_db.unit_of_work import UnitOfWork

#: Why a refresh token is refused; the first two revoke what is left of the family.
REUSED: Final = "refresh token already used: the session is revoked, sign in again"
INVALID: Final = "invalid refresh token"
EXPIRED: Final = "refresh token expired: sign in again"
REVOKED: Final = "session ended: sign in again"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How sessions are signed and how long their tokens live."""

    signing_key: bytes
    access_lifetime: timedelta
    refresh_lifetime: timedelta
    issuer: str | None = None
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What a sign-in or a refresh hands back; ``refresh`` is shown once, never logged."""

    tenant_id: str
    user: User
    access_token: str
    access_expires_at: datetime
    refresh: OpaqueSecret
    refresh_expires_at: datetime
    family_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A refresh token that opens nothing; ``revoked_family`` when this revoked its family."""

    message: str
    revoked_family: str | None = None


def issue_session(
    uow: UnitOfWork, config: SessionConfig, tenant_id: str, user: User
) -> IssuedSession:
    """Start a new session (a new refresh-token family) for ``user`` in the current write."""
    token_id = new_id()
    return _issue(uow, config, tenant_id, user, token_id, family_id=token_id)


def rotate(
    uow: UnitOfWork, config: SessionConfig, presented: OpaqueSecret
) -> IssuedSession | Refused:
    """Spend ``presented`` and issue its successor, or say why not (in the current write).

    A refusal is returned, not raised, so that the family's revocation commits.
    """
    row = uow.refresh_tokens.find(presented.id)
    if row is None or not matches(presented, row.token_hash):
        return Refused(INVALID)
    if row.revoked_at is not None:
        return Refused(REVOKED)
    if row.spent_at is not None:
        uow.refresh_tokens.revoke_family(row.family_id)
        return Refused(REUSED, revoked_family=row.family_id)
    if row.expires_at <= uow.now:
        return Refused(EXPIRED)
    user = uow.users.find(row.user_id)
    if user is None or not uow.refresh_tokens.spend(row.id):
        return Refused(REVOKED)
    return _issue(uow, config, presented.tenant_id, user, new_id(), family_id=row.family_id)


def end_session(uow: UnitOfWork, presented: OpaqueSecret) -> str | None:
    """Revoke the family of ``presented`` (spent or not); its family id, or None if unknown."""
    row = uow.refresh_tokens.find(presented.id)
    if row is None or not matches(presented, row.token_hash):
        return None
    uow.refresh_tokens.revoke_family(row.family_id)
    return row.family_id


def access_token(
    config: SessionConfig, tenant_id: str, user: User, now: datetime
) -> tuple[str, datetime]:
    """A signed access token for ``user`` and when it expires."""
    expires_at = now + config.access_lifetime
    token = mint_token(
        config.signing_key,
        tenant_id=tenant_id,
        user_id=user.id,
        name=user.display_name,
        email=user.email,
        tenant_admin=user.is_tenant_admin,
        kind=user.kind,
        lifetime=config.access_lifetime,
        now=now,
        issuer=config.issuer,
        audience=config.audience,
    )
    return token, expires_at


def _issue(
    uow: UnitOfWork,
    config: SessionConfig,
    tenant_id: str,
    user: User,
    token_id: str,
    *,
    family_id: str,
) -> IssuedSession:
    now = uow.now
    refresh = new_secret(SecretKind.REFRESH, tenant_id, token_id)
    refresh_expires_at = now + config.refresh_lifetime
    uow.refresh_tokens.insert(
        token_id=token_id,
        family_id=family_id,
        user_id=user.id,
        token_hash=refresh.hash,
        expires_at=refresh_expires_at,
    )
    token, expires_at = access_token(config, tenant_id, user, now)
    return IssuedSession(
        tenant_id=tenant_id,
        user=user,
        access_token=token,
        access_expires_at=expires_at,
        refresh=refresh,
        refresh_expires_at=refresh_expires_at,
        family_id=family_id,
    )
