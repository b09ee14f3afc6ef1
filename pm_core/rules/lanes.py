"""Swim lane rules: one live lane per status, and WIP limits reported, never enforced.

A lane shows the project's live items whose status is the lane's, so two
lanes of one status would show the same items and leave an item's column
ambiguous: a project has one live lane per status (``swim_lane.one_per_status``).
A lane's WIP limit caps how many items it *should* hold: moving an item into
a full lane is allowed (work is not lost to a board setting), and the reply
and event of the move say the lane is over its limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from pm_core.enums import WorkItemStatus
from pm_core.errors import RuleViolationError
from pm_core.models import SwimLane

ONE_PER_STATUS: Final = "swim_lane.one_per_status"


@dataclass(frozen=True, slots=True)
class LaneLoad:
    """How many items a lane shows, against its WIP limit."""

    lane_id: str
    item_count: int
    wip_limit: int | None

    @property
    def over_limit(self) -> bool:
        return self.wip_limit is not None and self.item_count > self.wip_limit


def loads(lanes: Iterable[SwimLane], counts: Mapping[WorkItemStatus, int]) -> list[LaneLoad]:
    """Each lane's load, in the order of ``lanes``; ``counts`` is live items per status."""
    return [LaneLoad(lane.id, counts.get(lane.status, 0), lane.wip_limit) for lane in lanes]


def status_taken(status: WorkItemStatus, holder: SwimLane | None) -> RuleViolationError:
    """The refusal of a second live lane for ``status`` (``holder``: the lane showing it)."""
    shown_by = f" (lane {holder.name!r} shows it)" if holder is not None else ""
    return RuleViolationError(
        ONE_PER_STATUS,
        "status",
        f"a project has one lane per status: {status} already has a lane{shown_by}",
    )
