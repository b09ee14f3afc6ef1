"""Timer rules: stopping a running timer and logging time by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import RuleViolationError, ValidationError
from pm_core.models import TimeEntry
from pm_core.rules.timers import MAX_ENTRY_DURATION, check_manual_entry, stop_time

NOW = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
US = timedelta(microseconds=1)


def entry(started_at: datetime, ended_at: datetime | None = None) -> TimeEntry:
    return TimeEntry(
        id="t1",
        created_at=started_at,
        updated_at=started_at,
        project_id="p1",
        work_item_id="w1",
        user_id="u1",
        started_at=started_at,
        ended_at=ended_at,
    )


def test_max_entry_duration_is_24_hours():
    assert timedelta(hours=24) == MAX_ENTRY_DURATION


def test_stop_time_of_running_timer_is_now():
    assert stop_time(entry(NOW - timedelta(hours=1)), NOW) == NOW


def test_stop_time_with_clock_behind_start_never_goes_negative():
    started = NOW + timedelta(seconds=5)
    stopped = stop_time(entry(started), NOW)
    assert stopped == started


def test_stop_time_of_stopped_timer_is_refused():
    with pytest.raises(RuleViolationError) as info:
        stop_time(entry(NOW - timedelta(hours=2), NOW - timedelta(hours=1)), NOW)
    assert info.value.rule == "timer.not_running"


@settings(max_examples=100)
@given(st.timedeltas(min_value=-timedelta(days=2), max_value=timedelta(days=2)))
def test_stop_time_is_never_before_start_nor_before_now(offset):
    started = NOW + offset
    stopped = stop_time(entry(started), NOW)
    assert stopped >= started
    assert stopped >= NOW
    assert stopped in (started, NOW)


@pytest.mark.parametrize(
    "duration", [US, timedelta(minutes=30), MAX_ENTRY_DURATION - US, MAX_ENTRY_DURATION]
)
def test_check_manual_entry_up_to_24_hours_is_allowed(duration):
    check_manual_entry(NOW - duration, NOW, NOW)


def test_check_manual_entry_longer_than_24_hours_is_refused():
    with pytest.raises(RuleViolationError) as info:
        check_manual_entry(NOW - MAX_ENTRY_DURATION - US, NOW, NOW)
    assert info.value.rule == "timer.max_duration"
    assert info.value.field == "ended_at"


@pytest.mark.parametrize("ended_at", [NOW - timedelta(hours=1), NOW - timedelta(hours=2)])
def test_check_manual_entry_ending_at_or_before_start_is_refused(ended_at):
    with pytest.raises(RuleViolationError) as info:
        check_manual_entry(NOW - timedelta(hours=1), ended_at, NOW)
    assert info.value.rule == "timer.order"
    assert info.value.field == "ended_at"


def test_check_manual_entry_ending_in_the_future_is_refused():
    with pytest.raises(RuleViolationError) as info:
        check_manual_entry(NOW - timedelta(hours=1), NOW + US, NOW)
    assert info.value.rule == "timer.future"
    assert info.value.field == "ended_at"


def test_check_manual_entry_in_another_time_zone_compares_instants():
    eastern = timezone(timedelta(hours=-5))
    check_manual_entry((NOW - timedelta(hours=2)).astimezone(eastern), NOW.astimezone(eastern), NOW)


@pytest.mark.parametrize("field", ["started_at", "ended_at"])
def test_check_manual_entry_with_naive_datetime_is_refused(field):
    times = {"started_at": NOW - timedelta(hours=1), "ended_at": NOW}
    times[field] = times[field].replace(tzinfo=None)
    with pytest.raises(ValidationError) as info:
        check_manual_entry(times["started_at"], times["ended_at"], NOW)
    assert info.value.field == field
    assert not isinstance(info.value, RuleViolationError)


@settings(max_examples=200)
@given(
    st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3)),
    st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3)),
)
def test_check_manual_entry_accepts_exactly_the_valid_entries(start_offset, end_offset):
    started_at, ended_at = NOW + start_offset, NOW + end_offset
    valid = started_at < ended_at <= NOW and ended_at - started_at <= MAX_ENTRY_DURATION
    try:
        check_manual_entry(started_at, ended_at, NOW)
    except RuleViolationError:
        assert not valid
    else:
        assert valid
