"""How Python values are stored: ids, times and JSON values."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from typing import Any

import uuid_utils


def new_id() -> str:
    """A time-ordered id (UUIDv7): inserts land at the B-tree's right edge."""
    return str(uuid_utils.uuid7())


def utc_now() -> datetime:
    return datetime.now(UTC)


def db_time(value: datetime) -> str:
    """UTC, fixed width, so stored times sort as text: ``2026-11-22T10:00:00.000000Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime; pm stores aware UTC times only")
    return _utc_text(value)


@functools.lru_cache(maxsize=256)
def _utc_text(value: datetime) -> str:
    # A unit of work stamps all its rows with one ``now``: formatted once, not per row.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def db_time_or_none(value: datetime | None) -> str | None:
    return None if value is None else db_time(value)


def parse_db_time(text: str) -> datetime:
    """The aware UTC time of a stored text (``fromisoformat`` reads the ``Z``)."""
    return datetime.fromisoformat(text)


def parse_db_time_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_db_time(text)


def db_date_or_none(value: date | None) -> str | None:
    """A calendar date as stored: ``2026-12-07`` (sorts as text in date order)."""
    return None if value is None else value.isoformat()


def parse_db_date_or_none(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def to_json(value: Any) -> str | None:
    """A JSON text for the activity log; None stays SQL NULL."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
