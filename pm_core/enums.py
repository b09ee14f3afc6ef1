"""Closed sets of values used across the domain.

Every enum is a ``StrEnum`` whose values are what the database stores and what
the protocol carries, so a value never needs translating between layers.
"""

from enum import StrEnum


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Role(StrEnum):
    """A member's role in one project. Ordered: viewer < editor < admin."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, required: "Role") -> bool:
        """True when this role is at least ``required``."""
        return self.rank >= required.rank


_ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


class WorkItemType(StrEnum):
    EPIC = "epic"
    STORY = "story"
    TASK = "task"


class WorkItemStatus(StrEnum):
    BACKLOG = "backlog"
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    DONE = "done"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SprintStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DependencyType(StrEnum):
    BLOCKS = "blocks"
    RELATES_TO = "relates_to"


class LlmContextType(StrEnum):
    SCHEMA_DOC = "schema_doc"
    QUERY_PATTERN = "query_pattern"
    BUSINESS_RULE = "business_rule"
    EXAMPLE = "example"
    INSTRUCTION = "instruction"


class UserKind(StrEnum):
    """Who a user is: a person, or the agent user an API key acts as."""

    HUMAN = "human"
    AGENT = "agent"


class EntityType(StrEnum):
    """The kinds of rows the activity log and the event log talk about."""

    USER = "user"
    PROJECT = "project"
    MEMBER = "member"
    WORK_ITEM = "work_item"
    SPRINT = "sprint"
    COMMENT = "comment"
    TIME_ENTRY = "time_entry"
    DEPENDENCY = "dependency"
    SWIM_LANE = "swim_lane"
    LLM_CONTEXT = "llm_context"
    LABEL = "label"
    ITEM_LABEL = "item_label"
    WATCH = "watch"
    NOTIFICATION = "notification"


class NotificationReason(StrEnum):
    """Why a user's inbox got a notification."""

    ASSIGNED = "assigned"
    MENTIONED = "mentioned"
    WATCHED = "watched"


class Action(StrEnum):
    """What happened to an entity, as recorded in the activity log."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class WebhookState(StrEnum):
    """A webhook endpoint delivering, paused by an admin, or disabled after failures."""

    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"
