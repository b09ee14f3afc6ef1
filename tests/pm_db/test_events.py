"""The event log: seq grows by one per event, never repeats, and survives purges."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from pm_core.errors import ValidationError
from pm_core.models import StoredEvent
from pm_db.repositories.events import EventLogRepository


def append(events: EventLogRepository, project_id: str | None, payload: bytes) -> StoredEvent:
    """Store ``payload`` as a mutation does (its encoding here does not carry the seq)."""
    return events.append_encoded(project_id=project_id, encode=lambda _seq: payload)


@pytest.fixture
def events(conn: sqlite3.Connection, now: datetime) -> EventLogRepository:
    return EventLogRepository(conn, now)


def test_empty_event_log_has_latest_seq_zero_and_no_oldest(events: EventLogRepository) -> None:
    assert events.latest_seq() == 0
    assert events.oldest_seq() is None
    assert events.after(0) == []


def test_append_returns_the_stored_event(events: EventLogRepository, now: datetime) -> None:
    payload = b"\x00\x01binary\xff"

    stored = append(events, project_id="p-1", payload=payload)

    assert stored.seq == 1
    assert (stored.project_id, stored.payload, stored.created_at) == ("p-1", payload, now)
    assert events.after(0) == [stored]
    assert events.latest_seq() == 1
    assert events.oldest_seq() == 1


def test_append_encoded_hands_the_new_seq_to_the_encoding(events: EventLogRepository) -> None:
    first = events.append_encoded(project_id=None, encode=lambda seq: f"event {seq}".encode())
    second = events.append_encoded(project_id="p-1", encode=lambda seq: f"event {seq}".encode())

    assert (first.seq, first.payload) == (1, b"event 1")
    assert (second.seq, second.payload) == (2, b"event 2")
    assert events.after(0) == [first, second]


def test_seq_is_strictly_increasing_and_contiguous_under_many_appends(
    events: EventLogRepository,
) -> None:
    seqs = [
        append(events, project_id=f"p-{n % 3}", payload=n.to_bytes(2, "big")).seq
        for n in range(500)
    ]

    assert seqs == list(range(1, 501))
    assert events.latest_seq() == 500
    read = events.after(0, limit=1000)
    assert [e.seq for e in read] == seqs
    assert [int.from_bytes(e.payload, "big") for e in read] == list(range(500))


def test_rolled_back_append_leaves_no_gap(
    events: EventLogRepository, conn: sqlite3.Connection
) -> None:
    append(events, project_id=None, payload=b"1")
    conn.execute("SAVEPOINT unit_of_work")
    append(events, project_id=None, payload=b"rolled back")
    conn.execute("ROLLBACK TO unit_of_work")
    conn.execute("RELEASE unit_of_work")

    stored = append(events, project_id=None, payload=b"2")

    assert stored.seq == 2
    assert [e.payload for e in events.after(0)] == [b"1", b"2"]


def test_after_returns_later_events_ascending_up_to_limit(events: EventLogRepository) -> None:
    for n in range(10):
        append(events, project_id="p-1", payload=bytes([n]))

    page = events.after(3, limit=4)

    assert [e.seq for e in page] == [4, 5, 6, 7]
    assert events.after(10) == []


def test_after_filters_by_project(events: EventLogRepository) -> None:
    for project_id in ["p-1", "p-2", None, "p-3", "p-1", None]:
        append(events, project_id=project_id, payload=b"x")

    assert [e.seq for e in events.after(0, project_ids={"p-1"})] == [1, 5]
    assert [e.seq for e in events.after(0, project_ids=["p-1", "p-3"])] == [1, 4, 5]
    assert [e.seq for e in events.after(1, project_ids={"p-1"}, include_tenant_wide=True)] == [
        3,
        5,
        6,
    ]
    assert events.after(0, project_ids=[]) == []
    assert [e.seq for e in events.after(0)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("limit", [0, 10_001])
def test_after_with_out_of_range_limit_is_refused(events: EventLogRepository, limit: int) -> None:
    with pytest.raises(ValidationError) as caught:
        events.after(0, limit=limit)

    assert caught.value.field == "limit"


def test_purge_older_than_deletes_only_older_events(
    conn: sqlite3.Connection, now: datetime
) -> None:
    for days_ago in (3, 2, 1, 0):
        append(EventLogRepository(conn, now - timedelta(days=days_ago)), "p-1", b"x")
    events = EventLogRepository(conn, now)

    deleted = events.purge_older_than(now - timedelta(days=1))

    assert deleted == 2
    assert [e.seq for e in events.after(0)] == [3, 4]
    assert events.oldest_seq() == 3
    assert events.latest_seq() == 4


def test_seq_never_goes_back_after_purging_every_event(
    events: EventLogRepository, now: datetime
) -> None:
    for _ in range(3):
        append(events, project_id="p-1", payload=b"x")

    assert events.purge_older_than(now + timedelta(seconds=1)) == 3

    assert events.oldest_seq() is None
    assert events.latest_seq() == 3
    assert append(events, project_id="p-1", payload=b"y").seq == 4
    assert events.latest_seq() == 4
