"""UserRepository: upsert from tokens, reads, soft delete and revival."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import ConflictError, NotFoundError, ValidationError
from pm_core.models import User
from pm_core.text import EMAIL_MAX, NAME_MAX
from pm_db.codec import db_time
from pm_db.repositories.users import UserRepository
from pm_db.unit_of_work import UnitOfWork

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


def test_upsert_of_soft_deleted_user_brings_it_back(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, user: User
) -> None:
    uow.users.soft_delete(user.id, expected_version=1)

    revived = later(conn, now).upsert(
        user_id=user.id, display_name=user.display_name, email=user.email
    )

    assert revived.deleted_at is None
    assert revived.version == 3
    assert uow.users.get(user.id) == revived
    assert uow.users.list() == [revived]


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


def test_list_returns_live_users_by_display_name(uow: UnitOfWork, user: User) -> None:
    zed = uow.users.upsert(user_id="u-zed", display_name="Zed")
    bob = uow.users.upsert(user_id="u-bob", display_name="Bob")

    assert uow.users.list() == [user, bob, zed]


def test_soft_delete_with_stale_version_conflicts(uow: UnitOfWork, user: User) -> None:
    with pytest.raises(ConflictError) as excinfo:
        uow.users.soft_delete(user.id, expected_version=7)

    assert excinfo.value.current_version == 1
    assert excinfo.value.current == user
    assert uow.users.get(user.id) == user


def test_soft_delete_hides_user_but_keeps_the_row(
    uow: UnitOfWork, conn: sqlite3.Connection, now: datetime, user: User
) -> None:
    deleted = uow.users.soft_delete(user.id, expected_version=None)

    assert deleted.deleted_at == now
    assert deleted.version == 2
    assert uow.users.find(user.id) is None
    assert uow.users.list() == []
    with pytest.raises(NotFoundError):
        uow.users.get(user.id)
    row = conn.execute("SELECT deleted_at, version FROM users WHERE id = ?", (user.id,)).fetchone()
    assert tuple(row) == (db_time(now), 2)


def test_soft_delete_of_deleted_user_raises_not_found(uow: UnitOfWork, user: User) -> None:
    uow.users.soft_delete(user.id, expected_version=1)

    with pytest.raises(NotFoundError):
        uow.users.soft_delete(user.id, expected_version=None)


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
