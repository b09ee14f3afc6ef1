"""AccountRepository and RefreshTokenRepository on a real tenant database."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from pm_core.errors import ConflictError, DuplicateError
from pm_db.unit_of_work import UnitOfWork

HASH = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


@pytest.fixture
def alice(uow: UnitOfWork) -> str:
    uow.users.upsert(user_id="alice", display_name="Alice", email="Alice@Example.com")
    return "alice"


def test_account_is_found_by_email_whatever_its_case(uow: UnitOfWork, alice: str) -> None:
    created = uow.accounts.create(user_id=alice, email=" Alice@Example.COM ", password_hash=HASH)

    assert created.email_key == "alice@example.com"
    assert uow.accounts.find_by_email("ALICE@example.com") == created
    assert uow.accounts.find(alice) == created
    assert HASH not in repr(created)
    assert created.can_sign_in


def test_an_email_has_one_live_account(uow: UnitOfWork, alice: str) -> None:
    uow.users.upsert(user_id="bob", display_name="Bob")
    uow.accounts.create(user_id=alice, email="a@example.com")

    with pytest.raises(DuplicateError):
        uow.accounts.create(user_id="bob", email="A@EXAMPLE.com")
    with pytest.raises(DuplicateError):
        uow.accounts.create(user_id=alice, email="other@example.com")


def test_invited_account_cannot_sign_in_until_a_password_is_set(
    uow: UnitOfWork, alice: str
) -> None:
    invited = uow.accounts.create(user_id=alice, email="a@example.com")
    assert not invited.can_sign_in
    assert invited.password_changed_at is None

    changed = uow.accounts.set_password(invited, HASH)

    assert changed.can_sign_in
    assert changed.version == 2
    assert uow.accounts.get(alice) == changed
    with pytest.raises(ConflictError):
        uow.accounts.set_password(invited, HASH)  # a stale read


def test_refresh_token_is_spent_once_and_revoked_by_family_and_user(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, alice: str
) -> None:
    tokens = uow.refresh_tokens
    expires = now + timedelta(days=30)
    tokens.insert(token_id="t1", family_id="t1", user_id=alice, token_hash="h1", expires_at=expires)
    tokens.insert(token_id="t2", family_id="t1", user_id=alice, token_hash="h2", expires_at=expires)
    tokens.insert(token_id="t3", family_id="t3", user_id=alice, token_hash="h3", expires_at=expires)

    assert tokens.spend("t1")
    assert not tokens.spend("t1")
    assert tokens.revoke_family("t1") == 2
    assert not tokens.spend("t2")
    found = tokens.find("t1")
    assert found is not None
    assert (found.spent_at, found.revoked_at) == (now, now)
    assert tokens.revoke_user(alice) == 1  # t3; t1 and t2 were revoked already
    assert tokens.find("missing") is None


def test_token_hashes_are_unique(uow: UnitOfWork, now: datetime, alice: str) -> None:
    later = now + timedelta(days=1)
    uow.refresh_tokens.insert(
        token_id="t1", family_id="t1", user_id=alice, token_hash="h", expires_at=later
    )
    with pytest.raises(sqlite3.IntegrityError):
        uow.refresh_tokens.insert(
            token_id="t2", family_id="t2", user_id=alice, token_hash="h", expires_at=later
        )


def test_expired_tokens_are_purged(uow: UnitOfWork, now: datetime, alice: str) -> None:
    tokens = uow.refresh_tokens
    tokens.insert(
        token_id="old",
        family_id="old",
        user_id=alice,
        token_hash="h1",
        expires_at=now - timedelta(days=2),
    )
    tokens.insert(
        token_id="new",
        family_id="new",
        user_id=alice,
        token_hash="h2",
        expires_at=now + timedelta(days=2),
    )

    assert tokens.purge_expired_before(now - timedelta(days=1)) == 1
    assert tokens.find("old") is None
    assert tokens.find("new") is not None
