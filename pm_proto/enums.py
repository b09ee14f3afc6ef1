"""Two-way mapping between pm_core's ``StrEnum``s and the ``pm.v1`` protobuf enums.

Each pair is one literal table, StrEnum member -> protobuf number. ``UNSPECIFIED``
(0) never maps: ``from_pb_*`` refuses it, and any number the table does not know
(proto3 enums are open, so a peer can send any int), with a ValidationError
naming the field. A test finds every ``EnumPair`` of this module and checks that
both sides have the same members.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final, Generic, TypeVar

from google.protobuf.descriptor import EnumDescriptor

from pm_core.enums import (
    Action,
    DependencyType,
    EntityType,
    LlmContextType,
    Priority,
    ProjectStatus,
    Role,
    SprintStatus,
    WorkItemStatus,
    WorkItemType,
)
from pm_core.errors import ValidationError
from pm_proto.v1 import entities_pb2 as pb

E = TypeVar("E", bound=StrEnum)
V = TypeVar("V", bound=int)


class EnumPair(Generic[E, V]):
    """One StrEnum and its protobuf enum (``descriptor``), mapped both ways by ``table``."""

    def __init__(self, enum: type[E], descriptor: EnumDescriptor, table: Mapping[E, V]) -> None:
        self.enum = enum
        self.descriptor = descriptor
        self.table = dict(table)
        self.reverse: dict[int, E] = {number: member for member, number in table.items()}
        if len(self.reverse) != len(self.table) or 0 in self.reverse:
            raise ValueError(f"{enum.__name__}: table must be one-to-one and never use 0")

    def to_pb(self, value: E) -> V:
        return self.table[value]

    def from_pb(self, value: int, field: str) -> E:
        member = self.reverse.get(value)
        if member is not None:
            return member
        if value == 0:
            raise ValidationError(field, f"{field} is required")
        raise ValidationError(field, f"{field}: unknown {self.enum.__name__} value")


PROJECT_STATUS: Final = EnumPair(
    ProjectStatus,
    pb.ProjectStatus.DESCRIPTOR,
    {
        ProjectStatus.ACTIVE: pb.PROJECT_STATUS_ACTIVE,
        ProjectStatus.ARCHIVED: pb.PROJECT_STATUS_ARCHIVED,
    },
)
ROLE: Final = EnumPair(
    Role,
    pb.Role.DESCRIPTOR,
    {Role.VIEWER: pb.ROLE_VIEWER, Role.EDITOR: pb.ROLE_EDITOR, Role.ADMIN: pb.ROLE_ADMIN},
)
WORK_ITEM_TYPE: Final = EnumPair(
    WorkItemType,
    pb.WorkItemType.DESCRIPTOR,
    {
        WorkItemType.EPIC: pb.WORK_ITEM_TYPE_EPIC,
        WorkItemType.STORY: pb.WORK_ITEM_TYPE_STORY,
        WorkItemType.TASK: pb.WORK_ITEM_TYPE_TASK,
    },
)
WORK_ITEM_STATUS: Final = EnumPair(
    WorkItemStatus,
    pb.WorkItemStatus.DESCRIPTOR,
    {
        WorkItemStatus.BACKLOG: pb.WORK_ITEM_STATUS_BACKLOG,
        WorkItemStatus.TODO: pb.WORK_ITEM_STATUS_TODO,
        WorkItemStatus.IN_PROGRESS: pb.WORK_ITEM_STATUS_IN_PROGRESS,
        WorkItemStatus.IN_REVIEW: pb.WORK_ITEM_STATUS_IN_REVIEW,
        WorkItemStatus.DONE: pb.WORK_ITEM_STATUS_DONE,
    },
)
PRIORITY: Final = EnumPair(
    Priority,
    pb.Priority.DESCRIPTOR,
    {
        Priority.LOW: pb.PRIORITY_LOW,
        Priority.MEDIUM: pb.PRIORITY_MEDIUM,
        Priority.HIGH: pb.PRIORITY_HIGH,
        Priority.CRITICAL: pb.PRIORITY_CRITICAL,
    },
)
SPRINT_STATUS: Final = EnumPair(
    SprintStatus,
    pb.SprintStatus.DESCRIPTOR,
    {
        SprintStatus.PLANNED: pb.SPRINT_STATUS_PLANNED,
        SprintStatus.ACTIVE: pb.SPRINT_STATUS_ACTIVE,
        SprintStatus.COMPLETED: pb.SPRINT_STATUS_COMPLETED,
        SprintStatus.CANCELLED: pb.SPRINT_STATUS_CANCELLED,
    },
)
DEPENDENCY_TYPE: Final = EnumPair(
    DependencyType,
    pb.DependencyType.DESCRIPTOR,
    {
        DependencyType.BLOCKS: pb.DEPENDENCY_TYPE_BLOCKS,
        DependencyType.RELATES_TO: pb.DEPENDENCY_TYPE_RELATES_TO,
    },
)
LLM_CONTEXT_TYPE: Final = EnumPair(
    LlmContextType,
    pb.LlmContextType.DESCRIPTOR,
    {
        LlmContextType.SCHEMA_DOC: pb.LLM_CONTEXT_TYPE_SCHEMA_DOC,
        LlmContextType.QUERY_PATTERN: pb.LLM_CONTEXT_TYPE_QUERY_PATTERN,
        LlmContextType.BUSINESS_RULE: pb.LLM_CONTEXT_TYPE_BUSINESS_RULE,
        LlmContextType.EXAMPLE: pb.LLM_CONTEXT_TYPE_EXAMPLE,
        LlmContextType.INSTRUCTION: pb.LLM_CONTEXT_TYPE_INSTRUCTION,
    },
)
ENTITY_TYPE: Final = EnumPair(
    EntityType,
    pb.EntityType.DESCRIPTOR,
    {
        EntityType.USER: pb.ENTITY_TYPE_USER,
        EntityType.PROJECT: pb.ENTITY_TYPE_PROJECT,
        EntityType.MEMBER: pb.ENTITY_TYPE_MEMBER,
        EntityType.WORK_ITEM: pb.ENTITY_TYPE_WORK_ITEM,
        EntityType.SPRINT: pb.ENTITY_TYPE_SPRINT,
        EntityType.COMMENT: pb.ENTITY_TYPE_COMMENT,
        EntityType.TIME_ENTRY: pb.ENTITY_TYPE_TIME_ENTRY,
        EntityType.DEPENDENCY: pb.ENTITY_TYPE_DEPENDENCY,
        EntityType.SWIM_LANE: pb.ENTITY_TYPE_SWIM_LANE,
        EntityType.LLM_CONTEXT: pb.ENTITY_TYPE_LLM_CONTEXT,
    },
)
ACTION: Final = EnumPair(
    Action,
    pb.Action.DESCRIPTOR,
    {
        Action.CREATED: pb.ACTION_CREATED,
        Action.UPDATED: pb.ACTION_UPDATED,
        Action.DELETED: pb.ACTION_DELETED,
    },
)

to_pb_project_status: Final = PROJECT_STATUS.to_pb
from_pb_project_status: Final = PROJECT_STATUS.from_pb
to_pb_role: Final = ROLE.to_pb
from_pb_role: Final = ROLE.from_pb
to_pb_work_item_type: Final = WORK_ITEM_TYPE.to_pb
from_pb_work_item_type: Final = WORK_ITEM_TYPE.from_pb
to_pb_work_item_status: Final = WORK_ITEM_STATUS.to_pb
from_pb_work_item_status: Final = WORK_ITEM_STATUS.from_pb
to_pb_priority: Final = PRIORITY.to_pb
from_pb_priority: Final = PRIORITY.from_pb
to_pb_sprint_status: Final = SPRINT_STATUS.to_pb
from_pb_sprint_status: Final = SPRINT_STATUS.from_pb
to_pb_dependency_type: Final = DEPENDENCY_TYPE.to_pb
from_pb_dependency_type: Final = DEPENDENCY_TYPE.from_pb
to_pb_llm_context_type: Final = LLM_CONTEXT_TYPE.to_pb
from_pb_llm_context_type: Final = LLM_CONTEXT_TYPE.from_pb
to_pb_entity_type: Final = ENTITY_TYPE.to_pb
from_pb_entity_type: Final = ENTITY_TYPE.from_pb
to_pb_action: Final = ACTION.to_pb
from_pb_action: Final = ACTION.from_pb
