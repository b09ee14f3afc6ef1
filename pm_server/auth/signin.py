"""Built-in sign-in: the operations behind ``/v1/auth/*``, without HTTP.

- :meth:`SignIn.login`: tenant, email and password to a session. Every refusal
  that depends on the credentials (unknown tenant, unknown email, invited user
  without a password, wrong password) is the same UNAUTHENTICATED with the same
  message, after the same work: one database read and one argon2id
  verification (against a dummy hash when there is no stored one).
- :meth:`SignIn.refresh` and :meth:`SignIn.logout`: rotate or end a session by
  its refresh token (:mod:`pm_server.auth.sessions`).
- :meth:`SignIn.change_password`: the signed-in user's, given the current one;
  every other session of the user is revoked and a new one begins.
- :meth:`SignIn.accept`: an invitation token and a first password to a session
  (:func:`pm_server.invitations.accept_invitation`). A malformed, forged,
  spent, revoked or expired token, or one of a tenant without a database, gets
  the one answer :data:`INVALID_INVITATION` after the same work (the password
  is hashed before the token is looked at), and creates nothing.

Password attempts and invitation acceptances pass the
:class:`~pm_server.auth.throttle.LoginThrottle` first. argon2id runs in worker
threads, at most ``hash_slots`` at once (each holds its memory cost): a flood of
logins waits for a slot instead of taking the machine's memory and cores.

Logs name users, tenants and the loggable form of refresh tokens
(``pmr.<tenant>.<id>``), never a password or a secret.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from pm_auth.passwords import Passwords, check_new_password
from pm_auth.secrets import OpaqueSecret, SecretKind, parse_secret
from pm_auth.tokens import Principal
from pm_core.errors import (
    ForbiddenError,
    RateLimitedError,
    TenantGoneError,
    UnauthenticatedError,
)
from pm_core.models import User
from pm_core.tenancy import check_tenant_id
from pm_core.text import email_key
from pm_db.repositories.accounts import Account
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork
from pm_server.auth.sessions import (
    INVALID,
    IssuedSession,
    Refused,
    SessionConfig,
    end_session,
    issue_session,
    rotate,
)
from pm_server.auth.throttle import LoginThrottle
from pm_server.invitations import accept_invitation

log = logging.getLogger(__name__)

#: The one answer to credentials that do not sign in, whatever was wrong.
WRONG_CREDENTIALS: Final = "wrong email or password"
WRONG_PASSWORD: Final = "the current password is wrong"
NO_PASSWORD: Final = "this user signs in elsewhere and has no password here"
INVALID_INVITATION: Final = "invalid or expired invitation"


class SignIn:
    def __init__(
        self,
        databases: TenantDatabases,
        config: SessionConfig,
        passwords: Passwords,
        throttle: LoginThrottle,
        *,
        hash_slots: int,
    ) -> None:
        self._databases = databases
        self.config = config
        self._passwords = passwords
        self._throttle = throttle
        self._slots = asyncio.Semaphore(hash_slots)

    async def login(self, tenant_id: str, email: str, password: str, address: str) -> IssuedSession:
        """A new session for the account, or UNAUTHENTICATED / RATE_LIMITED."""
        check_tenant_id(tenant_id)
        key = email_key(email)
        wait = self._throttle.attempt(tenant_id, key, address)
        if wait:
            log.info("tenant=%s login refused: rate limited", tenant_id)
            raise RateLimitedError(wait)
        try:
            async with self._databases.use(tenant_id, create=False) as db:
                found = await db.read(lambda uow: _account_of(uow, key))
                stored = None if found is None else found[0].password_hash
                if not await self._verify(stored, password) or found is None:
                    raise UnauthenticatedError(WRONG_CREDENTIALS)
                account, user = found
                rehash = await self._rehash(account, password)
                session = await db.write(
                    lambda uow: self._start(uow, tenant_id, user, account, rehash)
                )
        except TenantGoneError:
            await self._verify(None, password)  # the same work as for an unknown email
            raise UnauthenticatedError(WRONG_CREDENTIALS) from None
        except UnauthenticatedError:
            log.info("tenant=%s login refused: wrong email or password", tenant_id)
            raise
        self._throttle.succeeded(tenant_id, key, address)
        log.info("tenant=%s user=%s signed in (session %s)", tenant_id, user.id, session.family_id)
        return session

    async def refresh(self, token: str) -> IssuedSession:
        """The successor of a refresh token; UNAUTHENTICATED if it opens nothing."""
        presented = parse_secret(token, SecretKind.REFRESH)
        try:
            async with self._databases.use(presented.tenant_id, create=False) as db:
                result = await db.write(lambda uow: rotate(uow, self.config, presented))
        except TenantGoneError:
            raise UnauthenticatedError(INVALID) from None
        if isinstance(result, Refused):
            if result.revoked_family is not None:
                log.warning(
                    "tenant=%s refresh token %s presented again after use: session %s revoked",
                    presented.tenant_id,
                    presented.loggable,
                    result.revoked_family,
                )
            raise UnauthenticatedError(result.message)
        return result

    async def logout(self, token: str) -> None:
        """End the session of a refresh token; a token that opens nothing is ignored."""
        try:
            presented = parse_secret(token, SecretKind.REFRESH)
        except UnauthenticatedError:
            return
        try:
            async with self._databases.use(presented.tenant_id, create=False) as db:
                family = await db.write(lambda uow: end_session(uow, presented))
        except TenantGoneError:
            return
        if family is not None:
            log.info("tenant=%s session %s signed out", presented.tenant_id, family)

    async def me(self, principal: Principal) -> User:
        """The signed-in user's row (UNAUTHENTICATED if the tenant or user is gone)."""
        try:
            async with self._databases.use(principal.tenant_id, create=False) as db:
                user = await db.read(lambda uow: uow.users.find(principal.user_id))
        except TenantGoneError:
            raise UnauthenticatedError("unknown tenant") from None
        if user is None:
            raise UnauthenticatedError("unknown user")
        return user

    async def change_password(
        self, principal: Principal, current: str, new: str, address: str
    ) -> IssuedSession:
        """Set a new password; every session of the user ends and a new one begins."""
        check_new_password(new)
        tenant_id = principal.tenant_id
        try:
            async with self._databases.use(tenant_id, create=False) as db:
                found = await db.read(lambda uow: _account_and_user(uow, principal.user_id))
                if found is None:
                    raise ForbiddenError(NO_PASSWORD)
                account, user = found
                wait = self._throttle.attempt(tenant_id, account.email_key, address)
                if wait:
                    raise RateLimitedError(wait)
                if not await self._verify(account.password_hash, current):
                    log.info("tenant=%s user=%s password change refused", tenant_id, user.id)
                    raise ForbiddenError(WRONG_PASSWORD)
                self._throttle.succeeded(tenant_id, account.email_key, address)
                new_hash = await self._hash(new)
                session = await db.write(
                    lambda uow: self._replace_password(uow, tenant_id, user, account, new_hash)
                )
        except TenantGoneError:
            raise UnauthenticatedError("unknown tenant") from None
        log.info(
            "tenant=%s user=%s changed the password; other sessions revoked", tenant_id, user.id
        )
        return session

    async def accept(self, token: str, password: str, address: str) -> IssuedSession:
        """Accept an invitation: its account's first password, and a new session."""
        check_new_password(password)
        presented: OpaqueSecret | None
        try:
            presented = parse_secret(token, SecretKind.INVITATION)
        except UnauthenticatedError:
            presented = None
        # An invitation is its own account bucket (the email is not known yet); the
        # address bucket holds a guesser of many ids. Malformed tokens name no invitation:
        # their bucket is the address's, so that one client cannot use up everyone's.
        tenant_id = "" if presented is None else presented.tenant_id
        bucket = f"malformed:{address}" if presented is None else f"invitation:{presented.id}"
        wait = self._throttle.attempt(tenant_id, bucket, address)
        if wait:
            log.info("invitation refused: rate limited")
            raise RateLimitedError(wait)
        new_hash = await self._hash(password)
        session = None
        if presented is not None:
            try:
                async with self._databases.use(presented.tenant_id, create=False) as db:
                    session = await db.write(
                        lambda uow: accept_invitation(uow, self.config, presented, new_hash)
                    )
            except TenantGoneError:
                session = None
        if session is None or presented is None:
            what = "malformed" if presented is None else presented.loggable
            log.info("invitation %s refused: invalid or expired", what)
            raise UnauthenticatedError(INVALID_INVITATION)
        self._throttle.succeeded(tenant_id, bucket, address)
        log.info(
            "tenant=%s user=%s accepted invitation %s (session %s)",
            tenant_id,
            session.user.id,
            presented.loggable,
            session.family_id,
        )
        return session

    # -- inside the writer -----------------------------------------------------

    def _start(
        self, uow: UnitOfWork, tenant_id: str, user: User, account: Account, rehash: str | None
    ) -> IssuedSession:
        if rehash is not None:  # stored with older parameters: keep the new ones
            uow.accounts.set_password(account, rehash)
        return issue_session(uow, self.config, tenant_id, user)

    def _replace_password(
        self, uow: UnitOfWork, tenant_id: str, user: User, account: Account, new_hash: str
    ) -> IssuedSession:
        uow.accounts.set_password(account, new_hash)
        uow.refresh_tokens.revoke_user(user.id)
        return issue_session(uow, self.config, tenant_id, user)

    # -- argon2id, off the event loop and bounded ----------------------------------

    async def _verify(self, stored: str | None, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._passwords.verify, stored, password)

    async def _hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._passwords.hash, password)

    async def _rehash(self, account: Account, password: str) -> str | None:
        stored = account.password_hash
        if stored is None or not self._passwords.needs_rehash(stored):
            return None
        return await self._hash(password)


def _account_of(uow: UnitOfWork, key: str) -> tuple[Account, User] | None:
    """The live account of an email key and its live user, if both exist."""
    account = uow.accounts.find_by_email(key)
    if account is None:
        return None
    user = uow.users.find(account.user_id)
    return None if user is None else (account, user)


def _account_and_user(uow: UnitOfWork, user_id: str) -> tuple[Account, User] | None:
    account = uow.accounts.find(user_id)
    user = uow.users.find(user_id)
    if account is None or user is None or not account.can_sign_in:
        return None
    return account, user
