"""Rules of an item's dates: calendar days, not instants.

A due date before the start date is refused; "overdue" is judged against a
calendar day the caller names (the server passes today's UTC date), so the
rule itself reads no clock.
"""

from __future__ import annotations

from datetime import date

from pm_core.enums import WorkItemStatus
from pm_core.errors import RuleViolationError


def check_dates(start_date: date | None, due_date: date | None) -> None:
    """A due date, where both are set, is on or after the start date."""
    if start_date is not None and due_date is not None and due_date < start_date:
        raise RuleViolationError(
            "work_item.dates", "due_date", "due_date must not be before start_date"
        )


def is_overdue(due_date: date | None, status: WorkItemStatus, today: date) -> bool:
    """Due before ``today`` and not done (an item due today is not overdue yet)."""
    return due_date is not None and due_date < today and status is not WorkItemStatus.DONE
