"""Bearer tokens: who the caller is and which tenant they belong to.

Tokens are JWTs. The tenant and the user come from the verified claims only:

- ``sub``: the user id (1-64 characters);
- ``tenant``: the tenant id, which must pass the tenant-id rule;
- ``name`` / ``email``: optional profile, used to provision the user row;
- ``roles``: optional list; ``"tenant_admin"`` grants every project permission.

``exp`` is required. This module verifies HS256 with the development key that
``pm serve`` generates on first start (see :func:`load_or_create_signing_key`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt

from pm_core.errors import UnauthenticatedError
from pm_core.tenancy import is_valid_tenant_id

ALGORITHM: Final = "HS256"
TENANT_CLAIM: Final = "tenant"
TENANT_ADMIN_ROLE: Final = "tenant_admin"
KEY_FILE_NAME: Final = "signing-key"
DEFAULT_LIFETIME: Final = timedelta(hours=24)
_MAX_USER_ID: Final = 64
_MAX_PROFILE: Final = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller."""

    tenant_id: str
    user_id: str
    display_name: str
    email: str | None
    is_tenant_admin: bool
    expires_at: datetime


def load_or_create_signing_key(data_dir: Path) -> bytes:
    """The development HS256 key in ``<data_dir>/signing-key``, created (mode 0600) if absent."""
    path = data_dir / KEY_FILE_NAME
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def mint_token(
    key: bytes,
    *,
    tenant_id: str,
    user_id: str,
    name: str | None = None,
    email: str | None = None,
    tenant_admin: bool = False,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> str:
    """A signed development token (``pm token``)."""
    if not is_valid_tenant_id(tenant_id):
        raise ValueError("tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        TENANT_CLAIM: tenant_id,
        "iat": issued,
        "exp": issued + lifetime,
    }
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if tenant_admin:
        claims["roles"] = [TENANT_ADMIN_ROLE]
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class TokenVerifier:
    def __init__(self, key: bytes, *, leeway: timedelta = timedelta(seconds=30)) -> None:
        self._key = key
        self._leeway = leeway

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; anything else raises UnauthenticatedError."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                options={"require": ["exp", "sub", TENANT_CLAIM]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthenticatedError(f"invalid token: {_reason(exc)}") from exc
        return _principal(claims)


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(exc, jwt.DecodeError):
        return "malformed"
    return exc.__class__.__name__


def _principal(claims: dict[str, Any]) -> Principal:
    tenant_id = claims[TENANT_CLAIM]
    if not is_valid_tenant_id(tenant_id):
        raise UnauthenticatedError("invalid token: tenant claim is not a valid tenant id")
    user_id = claims["sub"]
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= _MAX_USER_ID:
        raise UnauthenticatedError("invalid token: sub must be a string of 1-64 characters")
    if not user_id.isprintable():
        raise UnauthenticatedError("invalid token: sub must be printable")
    name = _profile(claims.get("name")) or user_id
    roles = claims.get("roles")
    return Principal(
        tenant_id=tenant_id,
        user_id=user_id,
        display_name=name,
        email=_profile(claims.get("email")),
        is_tenant_admin=isinstance(roles, list) and TENANT_ADMIN_ROLE in roles,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


def _profile(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.strip()
    if not cleaned or len(cleaned) > _MAX_PROFILE or not cleaned.isprintable():
        return None
    return cleaned
