"""``google.protobuf.Timestamp`` <-> aware UTC ``datetime``, at microsecond precision.

pm keeps times as aware datetimes in UTC with microseconds; the wire carries
seconds and nanoseconds since the Unix epoch. Sub-microsecond nanoseconds from
a peer are truncated toward the past. A timestamp outside what ``datetime`` can
hold (years 1-9999) or with nanoseconds outside 0..999,999,999 is refused with a
ValidationError naming the field, so hostile input never surfaces as an
OverflowError.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_core.errors import ValidationError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of both Timestamp and datetime.
_MIN_SECONDS: Final = -62_135_596_800
_MAX_SECONDS: Final = 253_402_300_799
_NANOS_PER_SECOND: Final = 1_000_000_000


def to_timestamp(dt: datetime) -> Timestamp:
    """An aware datetime (any offset) as a Timestamp; a naive one is a programming error."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("to_timestamp needs an aware datetime")
    delta = dt - _EPOCH
    # timedelta normalises to days (signed), seconds and microseconds (both >= 0),
    # which is exactly the (seconds, non-negative nanos) form Timestamp wants.
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def from_timestamp(ts: Timestamp, field: str = "timestamp") -> datetime:
    """The Timestamp as an aware UTC datetime; out-of-range values raise ValidationError."""
    if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS:
        raise ValidationError(field, f"{field}: time is out of range")
    if not 0 <= ts.nanos < _NANOS_PER_SECOND:
        raise ValidationError(field, f"{field}: nanos must be within 0..999999999")
    return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def get_time(msg: Message, field_name: str) -> datetime | None:
    """The Timestamp field ``field_name`` of ``msg``; None when it is absent."""
    if not msg.HasField(field_name):
        return None
    ts: Timestamp = getattr(msg, field_name)
    return from_timestamp(ts, field_name)
