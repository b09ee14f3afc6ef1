"""The sprint report rebuilt from the activity log: scope, done and remaining per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pm_core.enums import SprintStatus, WorkItemStatus, WorkItemType
from pm_core.models import Sprint, WorkItem
from pm_core.rules.sprint_report import FieldHistory, build_report, report_days

DAY1 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return DAY1.replace(hour=hour) + timedelta(days=day - 1)


def sprint(status: SprintStatus = SprintStatus.ACTIVE, **fields: Any) -> Sprint:
    values: dict[str, Any] = {
        "id": "s1",
        "project_id": "p1",
        "name": "S1",
        "status": status,
        "starts_at": DAY1,
        "ends_at": at(5),
        "created_at": DAY1,
        "updated_at": DAY1,
        **fields,
    }
    return Sprint(**values)


def item(number: int, **fields: Any) -> WorkItem:
    values: dict[str, Any] = {
        "id": f"i{number}",
        "project_id": "p1",
        "item_number": number,
        "type": WorkItemType.TASK,
        "title": f"item {number}",
        "status": WorkItemStatus.TODO,
        "position": float(number),
        "created_by": "u1",
        "sprint_id": "s1",
        "created_at": DAY1,
        "updated_at": DAY1,
        **fields,
    }
    return WorkItem(**values)


def counts(report: list[Any]) -> list[tuple[int, int, int, int, int, int]]:
    return [
        (
            d.scope_items,
            d.done_items,
            d.remaining_items,
            d.scope_points,
            d.done_points,
            d.remaining_points,
        )
        for d in report
    ]


def test_days_run_from_start_to_end_date_never_past_today() -> None:
    days = report_days(sprint(), now=at(3))
    assert days == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    assert len(report_days(sprint(), now=at(30))) == 5


def test_an_ended_sprint_reports_to_the_day_it_ended() -> None:
    ended = sprint(SprintStatus.COMPLETED, updated_at=at(2))
    assert report_days(ended, now=at(30)) == [date(2026, 3, 2), date(2026, 3, 3)]


def test_work_done_burns_down_and_added_scope_jumps_up() -> None:
    items = [
        item(1, story_points=3, status=WorkItemStatus.DONE),
        item(2, story_points=5),
        item(3, story_points=2, created_at=at(3)),  # added on day 3
    ]
    history = [FieldHistory("i1", at(2), "status", "todo")]  # i1 done on day 2
    report = build_report(sprint(), report_days(sprint(), now=at(3)), items, history)
    assert counts(report) == [
        (2, 0, 2, 8, 0, 8),
        (2, 1, 1, 8, 3, 5),
        (3, 1, 2, 10, 3, 7),
    ]


def test_items_moved_out_or_deleted_leave_the_scope_that_day() -> None:
    items = [
        item(1, story_points=1, sprint_id=None),  # moved to the backlog on day 2
        item(2, story_points=2, deleted_at=at(3)),  # deleted on day 3
        item(3, story_points=4, sprint_id="s1"),
    ]
    history = [FieldHistory("i1", at(2), "sprint_id", "s1")]
    report = build_report(sprint(), report_days(sprint(), now=at(3)), items, history)
    assert [(d.scope_items, d.scope_points) for d in report] == [(3, 7), (2, 6), (1, 4)]


def test_points_changed_mid_sprint_count_as_they_were_each_day() -> None:
    items = [item(1, story_points=8)]
    history = [FieldHistory("i1", at(2), "story_points", None)]  # estimated on day 2
    report = build_report(sprint(), report_days(sprint(), now=at(2)), items, history)
    assert [(d.scope_items, d.scope_points) for d in report] == [(1, 0), (1, 8)]


def test_an_ended_sprints_last_day_counts_the_work_its_end_moved_out() -> None:
    ended = sprint(SprintStatus.COMPLETED, updated_at=at(2, 17))
    items = [
        item(1, story_points=3, status=WorkItemStatus.DONE),
        item(2, story_points=5, sprint_id=None),  # moved out by the completion
    ]
    history = [FieldHistory("i2", at(2, 17), "sprint_id", "s1")]
    report = build_report(ended, report_days(ended, now=at(9)), items, history)
    assert counts(report)[-1] == (2, 1, 1, 8, 3, 5)
