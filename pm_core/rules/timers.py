"""Time entries and running timers.

A user has at most one running timer: starting a timer stops the previous
one (the repository stops it with :func:`stop_time`; a partial unique index
enforces it in the database). A manually logged entry has aware times, ends
after it starts, lasts at most :data:`MAX_ENTRY_DURATION` and does not end in
the future.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from pm_core.errors import RuleViolationError, ValidationError
from pm_core.models import TimeEntry

MAX_ENTRY_DURATION: Final = timedelta(hours=24)


def stop_time(entry: TimeEntry, now: datetime) -> datetime:
    """The ``ended_at`` for stopping the running ``entry`` at ``now``.

    Never before the entry started, so a clock that stepped back cannot
    produce a negative duration. An entry that already ended is refused.
    """
    if not entry.running:
        raise RuleViolationError("timer.not_running", "ended_at", "this timer is not running")
    return max(now, entry.started_at)


def check_manual_entry(started_at: datetime, ended_at: datetime, now: datetime) -> None:
    """Refuse a manually logged entry from ``started_at`` to ``ended_at``."""
    for field, value in (("started_at", started_at), ("ended_at", ended_at)):
        if value.utcoffset() is None:
            raise ValidationError(field, f"{field} must carry a time zone")
    if not started_at < ended_at:
        raise RuleViolationError("timer.order", "ended_at", "a time entry must end after it starts")
    if ended_at - started_at > MAX_ENTRY_DURATION:
        raise RuleViolationError(
            "timer.max_duration", "ended_at", "a time entry can last at most 24 hours"
        )
    if ended_at > now:
        raise RuleViolationError(
            "timer.future", "ended_at", "a time entry cannot end in the future"
        )
