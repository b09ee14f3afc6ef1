"""UserRepository: upsert from tokens, reads, soft delete and revival."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import UserKind
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import User
from pm_core.text import EMAIL_MAX, NAME_MAX
from pm_db.repositories.users import UserRepository
from pm_db.unit_of_work import UnitOfWork
from tests.pm_db.conftest import soft_delete_user

SINGLE_LINE = st.characters(exclude_categories=("Cc", "Cs"))
NAMES = st.one_of(
    st.text(SINGLE_LINE, min_size=1, max_size=NAME_MAX).filter(str.strip),
    st.sampled_from(["😀" * NAME_MAX, "漢" * NAME_MAX, "x", "👩‍👩‍👧 家族"]),
)
USER_IDS = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64),
    st.sampled_from(["u" * 64, "😀" * 64, "auth0|5f7c8ec7c33c6c004bbafe82"]),
)
EMAILS = st.one_of(
    st.none(),
    st.emails(),
    st.text(SINGLE_LINE, max_size=EMAIL_MAX),
    st.just("é" * EMAIL_MAX),
)


def later(conn: sqlite3.Connection, now: datetime, seconds: int = 60) -> UserRepository:
    """The repository of a later unit of work, so updated_at moves."""
    return UserRepository(conn, now + timedelta(seconds=seconds))


def test_upsert_new_user_inserts_it_at_version_1(uow: UnitOfWork, now: datetime) -> None:
    user = uow.users.upsert(user_id="u-bob", display_name="  Bob  ", email="bob@example.com")

    assert user.version == 1
    assert user.display_name == "Bob"
    assert user.created_at == user.updated_at == now
    assert uow.users.get("u-bob") == user


def test_upsert_with_unchanged_fields_keeps_the_version(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, user: User
) -> None:
    again = later(conn, now).upsert(
        user_id=user.id, display_name=user.display_name, email=user.email
    )

    assert again == user
    assert uow.users.get(user.id).updated_at == now


def test_upsert_with_changed_fields_bumps_the_version(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, user: User
) -> None:
    changed = later(conn, now).upsert(
        user_id=user.id, display_name="Alice Liddell", email=None, is_tenant_admin=True
    )

    assert changed.version == 2
    assert changed.updated_at == now + timedelta(seconds=60)
    assert changed.created_at == user.created_at
    assert uow.users.get(user.id) == changed
    assert (changed.display_name, changed.email, changed.is_tenant_admin) == (
        "Alice Liddell",
        None,
        True,
    )


def test_upsert_keeps_the_stored_kind_unless_one_is_given(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime
) -> None:
    agent = uow.users.upsert(user_id="u-bot", display_name="Bot", kind=UserKind.AGENT)
    assert agent.kind is UserKind.AGENT
    assert uow.users.upsert(user_id="u-bob", display_name="Bob").kind is UserKind.HUMAN

    again = later(conn, now).upsert(user_id="u-bot", display_name="Bot")

    assert again == agent
    assert uow.users.get("u-bot").kind is UserKind.AGENT
    assert conn.execute("SELECT kind FROM users WHERE id = 'u-bot'").fetchone()[0] == "agent"


def test_upsert_of_soft_deleted_user_brings_it_back(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, user: User
) -> None:
    soft_delete_user(uow, user.id)

    revived = later(conn, now).upsert(
        user_id=user.id, display_name=user.display_name, email=user.email
    )

    assert revived.deleted_at is None
    assert revived.version == 3
    assert uow.users.get(user.id) == revived


def test_upsert_with_invalid_display_name_raises_validation_error(uow: UnitOfWork) -> None:
    with pytest.raises(ValidationError) as excinfo:
        uow.users.upsert(user_id="u-bob", display_name="Bob\nSmith")

    assert excinfo.value.field == "display_name"
    assert uow.users.find("u-bob") is None


def test_get_unknown_user_raises_not_found(uow: UnitOfWork) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        uow.users.get("u-nobody")

    assert (excinfo.value.entity, excinfo.value.entity_id) == ("user", "u-nobody")
    assert uow.users.find("u-nobody") is None


def test_soft_deleted_user_is_hidden_from_reads(uow: UnitOfWork, user: User) -> None:
    soft_delete_user(uow, user.id)

    assert uow.users.find(user.id) is None
    with pytest.raises(NotFoundError):
        uow.users.get(user.id)


@settings(max_examples=50)
@given(user_id=USER_IDS, display_name=NAMES, email=EMAILS, is_tenant_admin=st.booleans())
def test_upserted_user_reads_back_equal(
    uow: UnitOfWork, user_id: str, display_name: str, email: str | None, is_tenant_admin: bool
) -> None:
    user = uow.users.upsert(
        user_id=user_id, display_name=display_name, email=email, is_tenant_admin=is_tenant_admin
    )

    assert uow.users.get(user.id) == user
    assert user.display_name == display_name.strip()
