"""Typed patches: what an update asks to change, one optional field per updatable column.

A patch field left at :data:`UNSET` is not part of the change; ``None`` on a
nullable field is a change (it clears the field). Because each entity has its
own frozen patch class, ``mypy --strict`` refuses a misspelt or fixed field
(``WorkItemPatch(titel=...)``, ``SprintPatch(status=...)``) before anything runs.

A patch carries no constraint of its own: its field types are the model's, and
:func:`pm_core.validation.merge` re-validates the whole entity once the set
fields are applied. A repository's updatable fields are its patch's fields
(:meth:`Patch.field_names`), so the two never drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from pydantic import AwareDatetime

from pm_core.enums import LlmContextType, Priority, ProjectStatus, WorkItemStatus, WorkItemType
from pm_core.models import ContextPriority, Id, LanePosition, Position, StoryPoints, WipLimit
from pm_core.text import Category, ContextContent, Description, Name, Sql, Title


class Unset(enum.Enum):
    """The type of :data:`UNSET`. An enum of one member, so that mypy narrows
    ``value is UNSET`` and ``T | Unset`` to ``T`` in the other branch."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Not part of this change": distinct from None, which clears a nullable field.
UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    """The fields an update sets; subclasses declare each field as ``T | Unset = UNSET``."""

    def changes(self) -> Mapping[str, object]:
        """The set fields by name, in declaration order (None included: it clears)."""
        return {
            field.name: value
            for field in fields(self)
            if (value := getattr(self, field.name)) is not UNSET
        }

    def is_empty(self) -> bool:
        """True when the patch sets no field at all."""
        return all(getattr(self, field.name) is UNSET for field in fields(self))

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """Every field a patch of this class can set: the entity's updatable fields."""
        return frozenset(field.name for field in fields(cls))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectPatch(Patch):
    name: Name | Unset = UNSET
    description: Description | Unset = UNSET
    status: ProjectStatus | Unset = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItemPatch(Patch):
    title: Title | Unset = UNSET
    description: Description | Unset = UNSET
    type: WorkItemType | Unset = UNSET
    status: WorkItemStatus | Unset = UNSET
    priority: Priority | Unset = UNSET
    story_points: StoryPoints | Unset | None = UNSET
    position: Position | Unset = UNSET
    parent_id: Id | Unset | None = UNSET
    sprint_id: Id | Unset | None = UNSET
    assignee_id: Id | Unset | None = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class SprintPatch(Patch):
    """Name, goal and dates; the status moves only through a transition."""

    name: Name | Unset = UNSET
    goal: Description | Unset = UNSET
    starts_at: AwareDatetime | Unset | None = UNSET
    ends_at: AwareDatetime | Unset | None = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class SwimLanePatch(Patch):
    name: Name | Unset = UNSET
    status: WorkItemStatus | Unset = UNSET
    position: LanePosition | Unset = UNSET
    wip_limit: WipLimit | Unset | None = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeEntryPatch(Patch):
    """A correction. ``ended_at`` None would restart a stopped entry, which the repository
    refuses; a running entry may change only ``started_at`` and ``note``."""

    started_at: AwareDatetime | Unset = UNSET
    ended_at: AwareDatetime | Unset | None = UNSET
    note: Description | Unset = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmContextPatch(Patch):
    context_type: LlmContextType | Unset = UNSET
    category: Category | Unset = UNSET
    title: Title | Unset = UNSET
    content: ContextContent | Unset = UNSET
    example_sql: Sql | Unset | None = UNSET
    priority: ContextPriority | Unset = UNSET
