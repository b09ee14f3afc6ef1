"""The sprint report: per day, the sprint's scope, what is done and what remains.

Rebuilt from the activity log, not from snapshots: each item's ``sprint_id``,
``status`` and ``story_points`` at the end of a day are its values now with
every later change undone (the log keeps each change's old value). An item
counts on a day when it existed at the day's end (created before, not yet
deleted) and was in the sprint then; it is done when its status was ``done``.
Days are UTC calendar days, from the sprint's start (its creation when it has
no start date) to its end date, never past today. Items without points count
as items and as 0 points. This is what a burndown draws: ``remaining`` falls
as work is done and jumps when scope is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from pm_core.enums import WorkItemStatus
from pm_core.models import Sprint, WorkItem
from pm_core.rules.sprints import TERMINAL

#: Fields whose history the report replays.
FIELDS: Final = ("sprint_id", "status", "story_points")
#: A report covers at most this many days (a sprint with absurd dates is cut, not refused).
MAX_DAYS: Final = 366


@dataclass(frozen=True, slots=True)
class FieldHistory:
    """One logged change of one of :data:`FIELDS` of an item."""

    item_id: str
    at: datetime
    field: str
    old: Any


@dataclass(frozen=True, slots=True)
class ReportDay:
    day: date
    scope_items: int
    done_items: int
    scope_points: int
    done_points: int

    @property
    def remaining_items(self) -> int:
        return self.scope_items - self.done_items

    @property
    def remaining_points(self) -> int:
        return self.scope_points - self.done_points


def closed_at(sprint: Sprint) -> datetime | None:
    """When an ended sprint ended: its last change (a completed or cancelled sprint is
    immutable, so that is the transition)."""
    return sprint.updated_at if sprint.status in TERMINAL else None


def report_days(sprint: Sprint, now: datetime) -> list[date]:
    """The days a report of ``sprint`` covers, taken at ``now``: from its start (or
    creation) to the day it ended, else to its end date, never past today."""
    first = (sprint.starts_at or sprint.created_at).astimezone(UTC).date()
    last_moment = closed_at(sprint) or now
    if sprint.ends_at is not None and closed_at(sprint) is None:
        last_moment = min(sprint.ends_at, now)
    last = max(first, last_moment.astimezone(UTC).date())
    count = min((last - first).days + 1, MAX_DAYS)
    return [first + timedelta(days=n) for n in range(count)]


def build_report(
    sprint: Sprint,
    days: Sequence[date],
    items: Iterable[WorkItem],
    history: Iterable[FieldHistory],
) -> list[ReportDay]:
    """Each day's counts for the sprint. ``items`` are the rows (soft-deleted ones included)
    of every item that is or was in the sprint, as they are now; ``history`` their logged
    changes of :data:`FIELDS`. An ended sprint's last day is taken just before it ended, so
    the items its end moved out still count there as the work left undone."""
    ended = closed_at(sprint)
    changes: dict[str, list[FieldHistory]] = {}
    for change in history:
        changes.setdefault(change.item_id, []).append(change)
    for logged in changes.values():
        logged.sort(key=lambda c: c.at, reverse=True)  # newest first: undone in that order
    rows = list(items)
    report = []
    for day in days:
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        if ended is not None:
            end = min(end, ended)
        scope_items = done_items = scope_points = done_points = 0
        for item in rows:
            if item.created_at >= end or (item.deleted_at is not None and item.deleted_at < end):
                continue
            state = _state_at(item, changes.get(item.id, ()), end)
            if state["sprint_id"] != sprint.id:
                continue
            points = state["story_points"] or 0
            scope_items += 1
            scope_points += points
            if state["status"] == WorkItemStatus.DONE:
                done_items += 1
                done_points += points
        report.append(ReportDay(day, scope_items, done_items, scope_points, done_points))
    return report


def _state_at(
    item: WorkItem, newest_first: Sequence[FieldHistory], end: datetime
) -> Mapping[str, Any]:
    state: dict[str, Any] = {
        "sprint_id": item.sprint_id,
        "status": str(item.status),
        "story_points": item.story_points,
    }
    for change in newest_first:
        if change.at < end:
            break
        state[change.field] = change.old
    return state
