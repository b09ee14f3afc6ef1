"""The sprint life cycle: transitions, one active sprint, immutability, dates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import SprintStatus
from pm_core.errors import InvalidTransitionError, RuleViolationError, ValidationError
from pm_core.models import Sprint
from pm_core.rules.sprints import (
    TERMINAL,
    TRANSITIONS,
    check_dates,
    check_mutable,
    check_transition,
)

PLANNED, ACTIVE = SprintStatus.PLANNED, SprintStatus.ACTIVE
COMPLETED, CANCELLED = SprintStatus.COMPLETED, SprintStatus.CANCELLED
T0 = datetime(2026, 1, 1, tzinfo=UTC)

ALLOWED = {
    (PLANNED, ACTIVE),
    (PLANNED, CANCELLED),
    (ACTIVE, COMPLETED),
    (ACTIVE, CANCELLED),
}


def sprint(status: SprintStatus, sprint_id: str = "s1") -> Sprint:
    return Sprint(
        id=sprint_id, created_at=T0, updated_at=T0, project_id="p1", name="Sprint", status=status
    )


def test_transitions_table_lists_exactly_the_allowed_moves():
    listed = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert listed == ALLOWED
    assert set(TRANSITIONS) == set(SprintStatus)
    assert {COMPLETED, CANCELLED} == TERMINAL


@pytest.mark.parametrize(("current", "target"), list(itertools.product(SprintStatus, SprintStatus)))
def test_check_transition_allows_only_the_table(current, target):
    if (current, target) in ALLOWED:
        check_transition(sprint(current), target, active_sprint_id=None)
        return
    with pytest.raises(InvalidTransitionError) as info:
        check_transition(sprint(current), target, active_sprint_id=None)
    assert info.value.current == current
    assert info.value.target == target
    assert info.value.rule == "sprint.transition"
    assert info.value.field == "status"
    assert f"from {current} to {target}" in info.value.message


def test_check_transition_to_active_while_another_sprint_is_active_is_refused():
    with pytest.raises(RuleViolationError) as info:
        check_transition(sprint(PLANNED, "s1"), ACTIVE, active_sprint_id="s2")
    assert info.value.rule == "sprint.one_active"
    assert info.value.field == "status"
    assert not isinstance(info.value, InvalidTransitionError)


def test_check_transition_to_active_when_recorded_active_is_itself_is_allowed():
    check_transition(sprint(PLANNED, "s1"), ACTIVE, active_sprint_id="s1")


@pytest.mark.parametrize("target", [COMPLETED, CANCELLED])
def test_check_transition_ending_active_sprint_ignores_the_one_active_rule(target):
    check_transition(sprint(ACTIVE, "s1"), target, active_sprint_id="s1")


@pytest.mark.parametrize("status", list(SprintStatus))
def test_check_mutable_refuses_only_terminal_sprints(status):
    if status in (PLANNED, ACTIVE):
        check_mutable(sprint(status))
        return
    with pytest.raises(RuleViolationError) as info:
        check_mutable(sprint(status))
    assert info.value.rule == "sprint.immutable"
    assert info.value.field == "status"


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [(None, None), (T0, None), (None, T0), (T0, T0 + timedelta(microseconds=1))],
)
def test_check_dates_with_end_after_start_or_missing_is_allowed(starts_at, ends_at):
    check_dates(starts_at, ends_at)


@pytest.mark.parametrize("ends_at", [T0, T0 - timedelta(days=1)])
def test_check_dates_with_end_not_after_start_is_refused(ends_at):
    with pytest.raises(ValidationError) as info:
        check_dates(T0, ends_at)
    assert info.value.field == "ends_at"


def test_check_dates_across_time_zones_compares_instants():
    later_elsewhere = datetime(2025, 12, 31, 20, 30, tzinfo=timezone(timedelta(hours=-4)))
    check_dates(T0, later_elsewhere)
    with pytest.raises(ValidationError):
        check_dates(later_elsewhere, T0)


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_check_dates_with_naive_datetime_is_refused(field):
    dates = {"starts_at": T0, "ends_at": T0 + timedelta(days=1)}
    dates[field] = dates[field].replace(tzinfo=None)
    with pytest.raises(ValidationError) as info:
        check_dates(dates["starts_at"], dates["ends_at"])
    assert info.value.field == field


attempts = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(SprintStatus))), max_size=40)


@settings(max_examples=200)
@given(attempts)
def test_random_transitions_obeying_checks_keep_one_active_and_terminal_final(steps):
    sprints = {f"s{n}": sprint(PLANNED, f"s{n}") for n in range(4)}
    finished: dict[str, SprintStatus] = {}
    for index, target in steps:
        current = sprints[f"s{index}"]
        active = [s.id for s in sprints.values() if s.status == ACTIVE]
        try:
            check_transition(current, target, active_sprint_id=active[0] if active else None)
        except RuleViolationError:
            pass
        else:
            sprints[current.id] = current.model_copy(update={"status": target})
        assert sum(s.status == ACTIVE for s in sprints.values()) <= 1
        for sprint_id, status in finished.items():
            assert sprints[sprint_id].status == status
        finished.update({s.id: s.status for s in sprints.values() if s.status in TERMINAL})
