"""Two-way mapping between pm_core's ``StrEnum``s and the ``pm.v1`` protobuf enums.

Each pair maps a StrEnum member to the protobuf value of the same name
(``Role.VIEWER`` <-> ``ROLE_VIEWER``), so a new member needs no edit here, only
its value in the schema. ``UNSPECIFIED`` (0) never maps: ``from_pb_*`` refuses
it, and any number the table does not know (proto3 enums are open, so a peer can
send any int), with a ValidationError naming the field. A test finds every
``EnumPair`` of this module and checks that both sides have the same members.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from google.protobuf.descriptor import EnumDescriptor

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
from pm_core.errors import ValidationError
from pm_proto.v1 import entities_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

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

    @classmethod
    def by_name(cls, enum: type[E], pb_enum: _EnumTypeWrapper[V]) -> EnumPair[E, V]:
        """The pair mapping each member to the value named ``<PB_ENUM>_<MEMBER>``.

        A member the schema lacks is left out, so ``to_pb`` of it raises KeyError;
        tests/pm_proto/test_enums.py and tests/test_registry.py name it.
        """
        prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", pb_enum.DESCRIPTOR.name).upper() + "_"
        names = pb_enum.DESCRIPTOR.values_by_name
        table = {m: pb_enum.Value(prefix + m.name) for m in enum if prefix + m.name in names}
        return cls(enum, pb_enum.DESCRIPTOR, table)

    def to_pb(self, value: E) -> V:
        return self.table[value]

    def from_pb(self, value: int, field: str) -> E:
        member = self.reverse.get(value)
        if member is not None:
            return member
        if value == 0:
            raise ValidationError(field, f"{field} is required")
        raise ValidationError(field, f"{field}: unknown {self.enum.__name__} value")


PROJECT_STATUS: Final = EnumPair.by_name(ProjectStatus, pb.ProjectStatus)
ROLE: Final = EnumPair.by_name(Role, pb.Role)
WORK_ITEM_TYPE: Final = EnumPair.by_name(WorkItemType, pb.WorkItemType)
WORK_ITEM_STATUS: Final = EnumPair.by_name(WorkItemStatus, pb.WorkItemStatus)
PRIORITY: Final = EnumPair.by_name(Priority, pb.Priority)
SPRINT_STATUS: Final = EnumPair.by_name(SprintStatus, pb.SprintStatus)
DEPENDENCY_TYPE: Final = EnumPair.by_name(DependencyType, pb.DependencyType)
LLM_CONTEXT_TYPE: Final = EnumPair.by_name(LlmContextType, pb.LlmContextType)
ENTITY_TYPE: Final = EnumPair.by_name(EntityType, pb.EntityType)
ACTION: Final = EnumPair.by_name(Action, pb.Action)
USER_KIND: Final = EnumPair.by_name(UserKind, pb.UserKind)
WEBHOOK_STATE: Final = EnumPair.by_name(WebhookState, pb.WebhookState)
NOTIFICATION_REASON: Final = EnumPair.by_name(NotificationReason, pb.NotificationReason)

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
to_pb_user_kind: Final = USER_KIND.to_pb
from_pb_user_kind: Final = USER_KIND.from_pb
to_pb_webhook_state: Final = WEBHOOK_STATE.to_pb
from_pb_webhook_state: Final = WEBHOOK_STATE.from_pb
to_pb_notification_reason: Final = NOTIFICATION_REASON.to_pb
from_pb_notification_reason: Final = NOTIFICATION_REASON.from_pb
