"""The entity registry: one entry per kind of board row, each fact written once.

An entry says what an entity is called (its :class:`~pm_core.enums.EntityType`,
whose value is also the name errors and the entity oneofs use), which model
holds one row, which table stores it, which other entities its columns refer
to (and whether deleting the target deletes the row), and whether its changes
are published as events. What must list the entities derives from
:data:`ENTITIES` instead of restating them: the export and import tables, the
soft-delete cascades, the live-row lookup behind the activity log, the
conversion to protobuf messages and the entity oneof fields.

``docs/architecture.md`` has the checklist for adding an entity, and
``tests/test_registry.py`` names the place a new entry still misses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pm_core.enums import EntityType
from pm_core.models import (
    Comment,
    Dependency,
    Entity,
    ItemLabel,
    Label,
    LlmContext,
    Notification,
    Project,
    ProjectMember,
    Sprint,
    SwimLane,
    TimeEntry,
    User,
    Watch,
    WorkItem,
)


@dataclass(frozen=True, slots=True)
class Ref:
    """A field holding the id of another entity's row (a foreign key in the schema)."""

    field: str
    target: EntityType
    #: Deleting the target deletes this row too (``ON DELETE CASCADE`` in the schema;
    #: a soft delete soft-deletes it, stamped with the same time).
    cascade: bool = False


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What the code needs to know about one entity, wherever it lists the entities."""

    entity_type: EntityType
    model: type[Entity]
    table: str
    refs: tuple[Ref, ...] = ()
    #: Its changes reach subscribers: ``Event.entity`` and ``Error.current``
    #: have a field named :attr:`name` for it.
    published: bool = True

    @property
    def name(self) -> str:
        """How errors, the activity log and the entity oneofs name it (``"work_item"``)."""
        return self.entity_type.value

    @property
    def project_field(self) -> str | None:
        """The field naming the project a row belongs to; None for tenant-wide entities.

        A project belongs to itself. A row whose ``project_id`` is None (an
        ``llm_context`` row for the whole tenant) is tenant-wide too.
        """
        if self.entity_type is EntityType.PROJECT:
            return "id"
        return "project_id" if "project_id" in self.model.model_fields else None


def _in_project(*refs: Ref) -> tuple[Ref, ...]:
    """The refs of a row that lives in a project (deleted with it) and ``refs``."""
    return (Ref("project_id", EntityType.PROJECT, cascade=True), *refs)


#: Every entity, in an order where each refers only to itself or to earlier ones
#: (the order import fills the tables in).
ENTITIES: Final[tuple[EntitySpec, ...]] = (
    EntitySpec(EntityType.USER, User, "users", published=False),
    EntitySpec(EntityType.PROJECT, Project, "projects", (Ref("created_by", EntityType.USER),)),
    EntitySpec(
        EntityType.MEMBER,
        ProjectMember,
        "project_members",
        _in_project(Ref("user_id", EntityType.USER, cascade=True)),
    ),
    EntitySpec(EntityType.SPRINT, Sprint, "sprints", _in_project()),
    EntitySpec(
        EntityType.WORK_ITEM,
        WorkItem,
        "work_items",
        _in_project(
            Ref("parent_id", EntityType.WORK_ITEM),
            Ref("sprint_id", EntityType.SPRINT),
            Ref("assignee_id", EntityType.USER),
            Ref("created_by", EntityType.USER),
        ),
    ),
    EntitySpec(EntityType.LABEL, Label, "labels", _in_project()),
    EntitySpec(
        EntityType.ITEM_LABEL,
        ItemLabel,
        "item_labels",
        _in_project(
            Ref("work_item_id", EntityType.WORK_ITEM, cascade=True),
            Ref("label_id", EntityType.LABEL, cascade=True),
            Ref("created_by", EntityType.USER),
        ),
    ),
    EntitySpec(
        EntityType.COMMENT,
        Comment,
        "comments",
        _in_project(
            Ref("work_item_id", EntityType.WORK_ITEM, cascade=True),
            Ref("author_id", EntityType.USER),
        ),
    ),
    EntitySpec(
        EntityType.TIME_ENTRY,
        TimeEntry,
        "time_entries",
        _in_project(
            Ref("work_item_id", EntityType.WORK_ITEM, cascade=True), Ref("user_id", EntityType.USER)
        ),
    ),
    EntitySpec(
        EntityType.DEPENDENCY,
        Dependency,
        "dependencies",
        _in_project(
            Ref("from_item_id", EntityType.WORK_ITEM, cascade=True),
            Ref("to_item_id", EntityType.WORK_ITEM, cascade=True),
            Ref("created_by", EntityType.USER),
        ),
    ),
    EntitySpec(
        EntityType.WATCH,
        Watch,
        "watches",
        _in_project(
            Ref("work_item_id", EntityType.WORK_ITEM, cascade=True),
            Ref("user_id", EntityType.USER),
        ),
    ),
    # A user's own: no cascade, so a deleted project or item never publishes who was
    # notified of it to its subscribers; the rows age out by retention (docs/storage.md).
    EntitySpec(
        EntityType.NOTIFICATION,
        Notification,
        "notifications",
        (
            Ref("user_id", EntityType.USER),
            Ref("project_id", EntityType.PROJECT),
            Ref("work_item_id", EntityType.WORK_ITEM),
            Ref("comment_id", EntityType.COMMENT),
            Ref("actor_id", EntityType.USER),
        ),
    ),
    EntitySpec(EntityType.SWIM_LANE, SwimLane, "swim_lanes", _in_project()),
    EntitySpec(
        EntityType.LLM_CONTEXT,
        LlmContext,
        "llm_context",
        _in_project(Ref("created_by", EntityType.USER)),
    ),
)

BY_TYPE: Final[Mapping[EntityType, EntitySpec]] = MappingProxyType(
    {spec.entity_type: spec for spec in ENTITIES}
)
