"""The domain's entities as frozen pydantic models.

A model is what one row means, independent of storage and protocol. Every
entity but the activity log carries ``version`` (optimistic concurrency; 1 on
create, +1 per update) and ``deleted_at`` (soft delete). Times are aware
datetimes in UTC.

An entity that can be updated has its patch right after its model
(``WorkItemPatch`` after ``WorkItem``; :mod:`pm_core.patches`): each field an
update may change, typed as the model's field, defaulting to ``UNSET``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from pm_core.enums import (
    Action,
    DependencyType,
    EntityType,
    LlmContextType,
    NotificationReason,
    Priority,
    ProjectStatus,
    Role,
    SprintStatus,
    UserKind,
    WebhookState,
    WorkItemStatus,
    WorkItemType,
)
from pm_core.keys import MAX_ITEM_NUMBER, ProjectKey
from pm_core.patches import UNSET, Patch, Unset
from pm_core.text import (
    Category,
    CommentBody,
    ContextContent,
    Description,
    Email,
    Name,
    Sql,
    Title,
)

Id = Annotated[str, Field(min_length=1, max_length=64)]
Version = Annotated[int, Field(ge=1)]
StoryPoints = Annotated[int, Field(ge=0, le=1000)]
ItemNumber = Annotated[int, Field(ge=1, le=MAX_ITEM_NUMBER)]
LanePosition = Annotated[int, Field(ge=0, le=1_000_000)]
WipLimit = Annotated[int, Field(ge=1, le=10_000)]
ContextPriority = Annotated[int, Field(ge=0, le=100)]
Position = Annotated[float, Field(allow_inf_nan=False)]
Colour = Annotated[str, Field(pattern=r"^#[0-9a-f]{6}$", description="`#rrggbb`, lower case")]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class Entity(Model):
    """Fields shared by every soft-deletable, versioned row."""

    id: Id
    version: Version = 1
    created_at: AwareDatetime
    updated_at: AwareDatetime
    deleted_at: AwareDatetime | None = None


class User(Entity):
    """A person or agent; ``id`` is the token's subject."""

    display_name: Name
    email: Email | None = None
    is_tenant_admin: bool = False
    kind: UserKind = Field(
        UserKind.HUMAN,
        description="schema 6 on, older documents leave it out and import gives `human`",
    )


class Project(Entity):
    key: ProjectKey
    name: Name
    description: Description = ""
    status: ProjectStatus = ProjectStatus.ACTIVE
    created_by: Id


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectPatch(Patch):
    name: Name | Unset = UNSET
    description: Description | Unset = UNSET
    status: ProjectStatus | Unset = UNSET


class ProjectMember(Entity):
    project_id: Id
    user_id: Id
    role: Role


class WorkItem(Entity):
    project_id: Id
    item_number: ItemNumber
    type: WorkItemType
    title: Title
    description: Description = ""
    status: WorkItemStatus = WorkItemStatus.BACKLOG
    priority: Priority = Priority.MEDIUM
    story_points: StoryPoints | None = None
    position: Position = 0.0
    parent_id: Id | None = None
    sprint_id: Id | None = None
    assignee_id: Id | None = None
    created_by: Id
    start_date: date | None = Field(
        None, description="a calendar date `YYYY-MM-DD`; schema 7 on, older documents have none"
    )
    due_date: date | None = Field(
        None, description="a calendar date `YYYY-MM-DD`; schema 7 on, older documents have none"
    )


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
    start_date: date | Unset | None = UNSET
    due_date: date | Unset | None = UNSET


class Label(Entity):
    """A project's tag for items; ``name`` is unique among the project's live labels
    (ignoring case)."""

    project_id: Id
    name: Name
    color: Colour = "#6b7280"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelPatch(Patch):
    name: Name | Unset = UNSET
    color: Colour | Unset = UNSET


class ItemLabel(Entity):
    """A label attached to an item (one live row per item and label; detaching
    soft-deletes it)."""

    project_id: Id
    work_item_id: Id
    label_id: Id
    created_by: Id


class Watch(Entity):
    """A user's own choice to watch an item or not (one live row per item and user).

    An item's creator and its assignee watch it without a row; a row says otherwise
    for one user: ``watching`` False for one who unwatched it, True for anyone who
    chose to watch it."""

    project_id: Id
    work_item_id: Id
    user_id: Id
    watching: bool = True


class Notification(Entity):
    """One entry of a user's inbox: what happened to an item they are concerned with.

    ``seq`` is the tenant seq of the event that caused it (one notification per user and
    event), the position a resume of the user's inbox subscription counts from."""

    user_id: Id
    project_id: Id
    work_item_id: Id
    comment_id: Id | None = None
    actor_id: Id
    reason: NotificationReason
    seq: Annotated[int, Field(ge=1)]
    read_at: AwareDatetime | None = None


class Sprint(Entity):
    project_id: Id
    name: Name
    goal: Description = ""
    status: SprintStatus = SprintStatus.PLANNED
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SprintPatch(Patch):
    """Name, goal and dates; the status moves only through a transition."""

    name: Name | Unset = UNSET
    goal: Description | Unset = UNSET
    starts_at: AwareDatetime | Unset | None = UNSET
    ends_at: AwareDatetime | Unset | None = UNSET


class Comment(Entity):
    project_id: Id
    work_item_id: Id
    author_id: Id
    body: CommentBody


class TimeEntry(Entity):
    """Work logged on an item; ``ended_at`` is None while the timer runs."""

    project_id: Id
    work_item_id: Id
    user_id: Id
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = Field(None, description="`null`: the timer runs")
    note: Description = ""

    @property
    def running(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeEntryPatch(Patch):
    """A correction. ``ended_at`` None would restart a stopped entry, which the repository
    refuses; a running entry may change only ``started_at`` and ``note``."""

    started_at: AwareDatetime | Unset = UNSET
    ended_at: AwareDatetime | Unset | None = UNSET
    note: Description | Unset = UNSET


class Dependency(Entity):
    """``from_item_id`` blocks (or relates to) ``to_item_id``."""

    project_id: Id
    from_item_id: Id
    to_item_id: Id
    type: DependencyType
    created_by: Id


class SwimLane(Entity):
    """A board column; items whose status is ``status`` show in it."""

    project_id: Id
    name: Name
    status: WorkItemStatus
    position: LanePosition
    wip_limit: WipLimit | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SwimLanePatch(Patch):
    name: Name | Unset = UNSET
    status: WorkItemStatus | Unset = UNSET
    position: LanePosition | Unset = UNSET
    wip_limit: WipLimit | Unset | None = UNSET


class LlmContext(Entity):
    """Documentation rows that AI agents read and write.

    ``project_id`` None means the row applies to the whole tenant.
    ``example_sql`` holds runnable SQL for query patterns and examples.
    """

    project_id: Id | None = Field(None, description="`null`: the whole tenant")
    context_type: LlmContextType
    category: Category = ""
    title: Title
    content: ContextContent
    example_sql: Sql | None = None
    priority: ContextPriority = 50
    created_by: Id | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmContextPatch(Patch):
    context_type: LlmContextType | Unset = UNSET
    category: Category | Unset = UNSET
    title: Title | Unset = UNSET
    content: ContextContent | Unset = UNSET
    example_sql: Sql | Unset | None = UNSET
    priority: ContextPriority | Unset = UNSET


WEBHOOK_URL_MAX = 2_000
WebhookName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=WEBHOOK_URL_MAX)]


class Webhook(Model):
    """An endpoint the tenant's events are posted to (pm_core.webhooks has its rules).

    Not an :class:`Entity` of the board: tenant-wide configuration of tenant admins,
    in no project, with no events of its own.
    """

    id: Id
    version: Version = 1
    name: WebhookName
    url: WebhookUrl
    #: The last four characters of the secret: enough to tell two secrets apart, never
    #: enough to sign. The secret itself is read only by the delivery worker.
    secret_hint: str
    #: Each filter empty = everything.
    project_ids: tuple[Id, ...] = ()
    entity_types: tuple[EntityType, ...] = ()
    actions: tuple[Action, ...] = ()
    state: WebhookState = WebhookState.ACTIVE
    #: The last event-log seq the receiver acknowledged; delivery goes on after it.
    acked_seq: Annotated[int, Field(ge=0)] = 0
    consecutive_failures: Annotated[int, Field(ge=0)] = 0
    last_error: str | None = None
    created_by: Id | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    deleted_at: AwareDatetime | None = None

    def wants(self, project_id: str | None, entity_type: EntityType, action: Action) -> bool:
        """Whether an event of this project, entity type and action goes to this endpoint."""
        return (
            (not self.project_ids or project_id in self.project_ids)
            and (not self.entity_types or entity_type in self.entity_types)
            and (not self.actions or action in self.actions)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookPatch(Patch):
    name: WebhookName | Unset = UNSET
    url: WebhookUrl | Unset = UNSET


class FieldChange(Model):
    """One field's old and new value, as JSON-compatible values."""

    field: str
    old: Any = None
    new: Any = None


class ActivityEntry(Model):
    """One audit-trail row: one per changed field, never deleted."""

    id: Id
    project_id: Id | None
    entity_type: EntityType
    entity_id: Id
    action: Action
    field: str | None = None
    old_value: Any = None
    new_value: Any = None
    actor_id: Id | None
    created_at: AwareDatetime


class StoredEvent(Model):
    """One row of the tenant's event log: the encoded event exactly as sent."""

    seq: Annotated[int, Field(ge=1)]
    project_id: Id | None
    payload: bytes
    created_at: AwareDatetime
