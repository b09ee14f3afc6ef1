"""The rules of an item's dates, and their wire form."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pm_core.enums import WorkItemStatus
from pm_core.errors import RuleViolationError, ValidationError
from pm_core.rules.dates import check_dates, is_overdue
from pm_proto.dates import date_or_none, from_date_text, to_date_text

TODAY = date(2026, 12, 7)


@given(st.dates(), st.dates())
def test_a_due_date_before_the_start_date_is_refused(start: date, due: date) -> None:
    if due < start:
        with pytest.raises(RuleViolationError) as raised:
            check_dates(start, due)
        assert (raised.value.rule, raised.value.field) == ("work_item.dates", "due_date")
    else:
        check_dates(start, due)
    check_dates(None, due)
    check_dates(start, None)


@pytest.mark.parametrize(
    ("due", "status", "overdue"),
    [
        (TODAY - timedelta(days=1), WorkItemStatus.TODO, True),
        (TODAY - timedelta(days=1), WorkItemStatus.DONE, False),
        (TODAY, WorkItemStatus.TODO, False),
        (None, WorkItemStatus.TODO, False),
    ],
)
def test_overdue_is_due_before_the_day_and_not_done(
    due: date | None, status: WorkItemStatus, overdue: bool
) -> None:
    assert is_overdue(due, status, TODAY) is overdue


@given(st.dates())
def test_a_date_round_trips_through_its_text(day: date) -> None:
    assert from_date_text(to_date_text(day), "due_date") == day


@pytest.mark.parametrize(
    "text",
    ["", "2026-02-30", "0000-01-01", "2026-1-1", "20261207", "2026-12-07T00:00", "٢٠٢٦-١٢-٠٧"],
)
def test_anything_but_a_real_yyyy_mm_dd_day_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        from_date_text(text, "start_date")
    assert raised.value.field == "start_date"


def test_empty_text_is_no_date() -> None:
    assert date_or_none("", "due_date") is None
