"""Idempotency keys: one stored reply per (user, request id)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from pm_core.errors import DuplicateError, ValidationError
from pm_db.repositories.idempotency import IdempotencyRepository


@pytest.fixture
def keys(conn: sqlite3.Connection, now: datetime) -> IdempotencyRepository:
    return IdempotencyRepository(conn, now)


def test_get_unknown_key_returns_none(keys: IdempotencyRepository) -> None:
    assert keys.get("u-alice", "req-1") is None


def test_recorded_reply_is_returned_byte_for_byte(keys: IdempotencyRepository) -> None:
    reply = b"\x08\x01\x12\x00\xff reply"

    keys.record("u-alice", "req-1", reply)

    assert keys.get("u-alice", "req-1") == reply


def test_recording_the_same_key_twice_is_a_duplicate_and_keeps_the_first_reply(
    keys: IdempotencyRepository,
) -> None:
    keys.record("u-alice", "req-1", b"first")

    with pytest.raises(DuplicateError) as caught:
        keys.record("u-alice", "req-1", b"second")

    assert caught.value.key == "request_id"
    assert keys.get("u-alice", "req-1") == b"first"


def test_same_request_id_of_two_users_is_independent(keys: IdempotencyRepository) -> None:
    keys.record("u-alice", "req-1", b"alice")
    keys.record("u-bob", "req-1", b"bob")

    assert keys.get("u-alice", "req-1") == b"alice"
    assert keys.get("u-bob", "req-1") == b"bob"
    assert keys.get("u-carol", "req-1") is None


@pytest.mark.parametrize(
    ("user_id", "request_id", "field"), [("", "r", "user_id"), ("u", "", "request_id")]
)
def test_record_with_empty_key_part_is_refused(
    keys: IdempotencyRepository, user_id: str, request_id: str, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        keys.record(user_id, request_id, b"x")

    assert caught.value.field == field


def test_purge_older_than_forgets_only_older_keys(conn: sqlite3.Connection, now: datetime) -> None:
    IdempotencyRepository(conn, now - timedelta(hours=25)).record("u-alice", "old", b"1")
    IdempotencyRepository(conn, now - timedelta(hours=23)).record("u-alice", "new", b"2")
    keys = IdempotencyRepository(conn, now)

    deleted = keys.purge_older_than(now - timedelta(hours=24))

    assert deleted == 1
    assert keys.get("u-alice", "old") is None
    assert keys.get("u-alice", "new") == b"2"
    keys.record("u-alice", "old", b"again")
    assert keys.get("u-alice", "old") == b"again"
