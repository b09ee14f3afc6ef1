"""API keys as bearers: checking a presented key, and closing the connections of a revoked one.

A key (``pmk.<tenant>.<id>.<secret>``) is recognised by its shape before any JWT
is tried. It names its tenant and row; the tenant's database is opened without
creating it, the row found by id and the secret's sha256 compared in constant
time. Every refusal says only "invalid API key" (unknown tenant, unknown key,
wrong secret and revoked look alike). An accepted key records its last use and
yields the principal of its agent user: its name and tenant-admin flag come from
the user row, never from the key's text. A key does not expire; revoking it
refuses new connections at once and closes the open ones with
:data:`CLOSE_CREDENTIAL_REVOKED`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Final

from pm_auth.secrets import OpaqueSecret, SecretKind, matches, parse_secret
from pm_auth.tokens import Principal
from pm_core.enums import UserKind
from pm_core.errors import TenantGoneError, UnauthenticatedError
from pm_core.models import User
from pm_db.unit_of_work import UnitOfWork
from pm_server.connection import CLOSE_CREDENTIAL_REVOKED, Connection
from pm_server.state import ServerState

log = logging.getLogger(__name__)

#: An API key's connection has no token expiry: it lasts until the key is revoked.
NEVER: Final = datetime(9999, 12, 31, tzinfo=UTC)
_REFUSED: Final = "invalid API key"


async def verify_api_key(state: ServerState, text: str) -> tuple[Principal, User]:
    """The principal and user of a valid, live API key; UnauthenticatedError otherwise."""
    secret = parse_secret(text, SecretKind.API_KEY)
    try:
        async with state.databases.use(secret.tenant_id, create=False) as db:
            user = await db.write(lambda uow: _check_and_touch(uow, secret))
    except TenantGoneError:
        raise UnauthenticatedError(_REFUSED) from None
    principal = Principal(
        tenant_id=secret.tenant_id,
        user_id=user.id,
        display_name=user.display_name,
        email=user.email,
        is_tenant_admin=user.is_tenant_admin,
        expires_at=NEVER,
        kind=UserKind.AGENT,
        api_key_id=secret.id,
    )
    return principal, user


def _check_and_touch(uow: UnitOfWork, secret: OpaqueSecret) -> User:
    found = uow.api_keys.find_with_hash(secret.id)
    # Compare even when the row is missing, so the time taken does not say which it was.
    key, stored = found if found is not None else (None, "0" * 64)
    if not matches(secret, stored) or key is None or key.revoked_at is not None:
        raise UnauthenticatedError(_REFUSED)
    user = uow.users.find(key.user_id)
    if user is None:
        raise UnauthenticatedError(_REFUSED)
    uow.api_keys.touch(key.id)
    return user


def close_connections_of_key(connections: set[Connection], tenant_id: str, key_id: str) -> int:
    """Close every open connection that carries the key; returns how many."""
    closed = 0
    for connection in list(connections):
        principal = connection.principal
        if principal.tenant_id != tenant_id or principal.api_key_id != key_id:
            continue
        if not connection.closing:
            log.info("%s API key revoked: closing", connection.log_context())
            connection.begin_close(CLOSE_CREDENTIAL_REVOKED, "API key revoked")
            closed += 1
    return closed
