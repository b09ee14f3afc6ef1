"""The sprint life cycle.

::

    planned ──> active ──> completed
       │           │
       └───────────┴─────> cancelled

Completed and cancelled are terminal: nothing leaves them and the sprint can
no longer be edited. A project has at most one active sprint at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from pm_core.enums import SprintStatus
from pm_core.errors import InvalidTransitionError, RuleViolationError, ValidationError
from pm_core.models import Sprint
from pm_core.text import with_article

TRANSITIONS: Final[Mapping[SprintStatus, frozenset[SprintStatus]]] = MappingProxyType(
    {
        SprintStatus.PLANNED: frozenset({SprintStatus.ACTIVE, SprintStatus.CANCELLED}),
        SprintStatus.ACTIVE: frozenset({SprintStatus.COMPLETED, SprintStatus.CANCELLED}),
        SprintStatus.COMPLETED: frozenset(),
        SprintStatus.CANCELLED: frozenset(),
    }
)

TERMINAL: Final = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def check_transition(sprint: Sprint, target: SprintStatus, *, active_sprint_id: str | None) -> None:
    """Refuse moving ``sprint`` to ``target``.

    ``active_sprint_id`` is the id of the project's live active sprint, if
    any; starting a sprint while another one is active is refused. Staying in
    the same status is not a transition and is refused too.
    """
    if target not in TRANSITIONS[sprint.status]:
        raise InvalidTransitionError("sprint", str(sprint.status), str(target))
    if (
        target == SprintStatus.ACTIVE
        and active_sprint_id is not None
        and active_sprint_id != sprint.id
    ):
        raise RuleViolationError(
            "sprint.one_active", "status", "another sprint of this project is already active"
        )


def check_mutable(sprint: Sprint) -> None:
    """Refuse editing a completed or cancelled sprint."""
    if sprint.status in TERMINAL:
        raise RuleViolationError(
            "sprint.immutable", "status", f"{with_article(sprint.status)} sprint cannot be changed"
        )


def check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    """Refuse an end that is not after the start (when both are set)."""
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and value.utcoffset() is None:
            raise ValidationError(field, f"{field} must carry a time zone")
    if starts_at is not None and ends_at is not None and not starts_at < ends_at:
        raise ValidationError("ends_at", "a sprint must end after it starts")


def check_holds_items(sprint: Sprint, project_id: str) -> None:
    """An item of ``project_id`` may be planned into ``sprint``: same project, not closed."""
    if sprint.project_id != project_id:
        raise RuleViolationError(
            "work_item.sprint_same_project",
            "sprint_id",
            "the sprint must belong to the item's project",
        )
    if sprint.status in (SprintStatus.COMPLETED, SprintStatus.CANCELLED):
        raise RuleViolationError(
            "work_item.sprint_closed",
            "sprint_id",
            f"items cannot be added to {with_article(sprint.status)} sprint",
        )


def check_destination(ending: Sprint, target: SprintStatus, destination: Sprint | None) -> None:
    """Refuse where ``ending``'s unfinished items would go when it moves to ``target``.

    Only a sprint that ends (completed or cancelled) gives its unfinished items
    away; they go to the backlog (``destination`` None) or to a planned sprint
    of the same project, the one the team plans to do them in next.
    """
    if destination is None:
        return
    if target not in TERMINAL:
        raise ValidationError(
            "move_open_items_to", "only a sprint that is completed or cancelled moves its items"
        )
    if destination.project_id != ending.project_id or destination.id == ending.id:
        raise RuleViolationError(
            "sprint.destination",
            "move_open_items_to",
            "unfinished items move to another sprint of the same project",
        )
    if destination.status != SprintStatus.PLANNED:
        raise RuleViolationError(
            "sprint.destination",
            "move_open_items_to",
            "unfinished items move to a planned sprint, not "
            f"{with_article(destination.status)} one",
        )
