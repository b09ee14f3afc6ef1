"""Update commands -> typed patches (pm_core.patches), by descriptor.

:func:`patch_of` builds any entity's patch from its ``Update*`` command: each
field of the patch is read from the command field of the same name, so a new
entity's update needs no edit here.

- A field with presence (proto3 ``optional``, a Timestamp) that is present sets
  the patch field; an absent one leaves it UNSET.
- The field's ``clear_<field>`` flag, where the command has one, sets it to
  None; a value together with its flag is a VALIDATION_ERROR.
- A nullable text field without a flag (the nullable ids of a work item,
  ``example_sql``) is cleared by the empty string.
- A date (a patch field typed ``date``) is ``YYYY-MM-DD`` text
  (:mod:`pm_proto.dates`); as a nullable text field, "" clears it.
- An enum goes through its pair (:mod:`pm_proto.enums`) and a time through
  :func:`pm_proto.timestamps.from_timestamp`: an unknown enum value or a time
  out of range is a VALIDATION_ERROR naming the field.
- A command that changes nothing at all is a VALIDATION_ERROR.

Refusals are checked field by field in the patch's order, so of two faults the
first field's is reported. What is particular to one command (the words
clients have always seen) is the one table :data:`_PARTICULAR`.

A command and a patch that do not fit (a patch field the command lacks or
cannot tell absent, a command field the patch forgets) is a programming error:
TypeError on first use, and tests/pm_proto/test_patches.py checks every
``Update*`` command before that.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_core.errors import ValidationError
from pm_core.patches import UNSET, Patch
from pm_proto import enums as pb_enums
from pm_proto.dates import from_date_text
from pm_proto.timestamps import from_timestamp

P = TypeVar("P", bound=Patch)

_NOTHING_TO_CHANGE: Final = "name at least one field to change"
_CLEAR: Final = "clear_"
# Fields 1 and 2 of every Update* command: the target's id and expected_version.
_TARGET_FIELDS: Final = 2


class _Particular(NamedTuple):
    """What one command says its own way."""

    #: The field a command that changes nothing is refused on (None: the patch's first).
    nothing: str | None = None
    #: A value sent with its ``clear_*`` flag, by field, where the words are not the default.
    contradictions: Mapping[str, str] = MappingProxyType({})


_PARTICULAR: Final[Mapping[str, _Particular]] = MappingProxyType(
    {
        "UpdateWorkItem": _Particular(
            nothing="item_id",
            contradictions={"story_points": "story_points and clear_story_points contradict"},
        ),
        "BulkUpdateWorkItems": _Particular(
            nothing="item_ids",
            contradictions={"story_points": "story_points and clear_story_points contradict"},
        ),
        "UpdateSwimLane": _Particular(
            contradictions={"wip_limit": "send either wip_limit or clear_wip_limit"}
        ),
        "UpdateTimeEntry": _Particular(nothing="note"),
        "UpdateLlmContext": _Particular(nothing="title"),
    }
)

#: Each enum pair by the full name of its protobuf enum.
_PAIRS: Final[Mapping[str, pb_enums.EnumPair[Any, Any]]] = MappingProxyType(
    {
        pair.descriptor.full_name: pair
        for pair in vars(pb_enums).values()
        if isinstance(pair, pb_enums.EnumPair)
    }
)


def patch_of(cmd: Message, patch_type: type[P]) -> P:
    """The patch of type ``patch_type`` that ``cmd`` (an ``Update*`` command) asks for."""
    # Typed as either protobuf backend's descriptor: both have the same API.
    command = typing.cast(Descriptor, cmd.DESCRIPTOR)
    plan = _PLANS.get((command.full_name, patch_type))
    if plan is None:
        plan = _PLANS[command.full_name, patch_type] = _plan(command, patch_type)
    values = {field.name: field.read(cmd) for field in plan.fields}
    # Each value is read by its field's type (checked when the plan is made).
    patch = patch_type(**values)
    if patch.is_empty():
        raise ValidationError(plan.nothing, _NOTHING_TO_CHANGE)
    return patch


def id_or_none(value: str) -> str | None:
    """A nullable id as the protocol sends it: "" means none."""
    return value or None


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """How one patch field is read from its command."""

    name: str
    time: bool
    #: A calendar date sent as ``YYYY-MM-DD`` text (:mod:`pm_proto.dates`).
    day: bool
    pair: pb_enums.EnumPair[Any, Any] | None
    #: The name of the field's ``clear_*`` flag, if the command has one.
    flag: str | None
    contradiction: str
    #: "" means None (a nullable text field without a flag).
    empty_clears: bool

    def read(self, cmd: Message) -> object:
        value = self._value(cmd)
        if self.flag is not None and getattr(cmd, self.flag):
            if value is not UNSET:
                raise ValidationError(self.name, self.contradiction)
            return None
        if self.empty_clears and value == "":
            return None
        if self.day and isinstance(value, str):
            return from_date_text(value, self.name)
        return value

    def _value(self, cmd: Message) -> object:
        """What the command sends for the field, UNSET when it is absent."""
        if not cmd.HasField(self.name):
            return UNSET
        value = getattr(cmd, self.name)
        if self.time:
            return from_timestamp(value, self.name)
        if self.pair is not None:
            return self.pair.from_pb(value, self.name)
        return value


class _Plan(NamedTuple):
    fields: tuple[_Field, ...]
    nothing: str


#: Each plan by command and patch, made on first use.
_PLANS: Final[dict[tuple[str, type[Patch]], _Plan]] = {}


def _plan(command: Descriptor, patch_type: type[Patch]) -> _Plan:
    """How ``patch_type`` is read from ``command``; TypeError when the two do not fit."""
    where = f"{command.name} -> {patch_type.__name__}"
    particular = _PARTICULAR.get(command.name, _Particular())
    hints = typing.get_type_hints(patch_type)
    by_name = command.fields_by_name
    names = [field.name for field in dataclasses.fields(patch_type)]
    forgotten = [
        field.name
        for field in command.fields
        if field.number > _TARGET_FIELDS
        and field.name not in names
        and not (field.name.startswith(_CLEAR) and field.name.removeprefix(_CLEAR) in names)
    ]
    if forgotten:
        raise TypeError(f"{where}: the patch has no field {', '.join(forgotten)}")
    fields = []
    for name in names:
        field = by_name.get(name)
        if field is None:
            raise TypeError(f"{where}: the command has no field {name}")
        if not field.has_presence:
            raise TypeError(f"{where}: {name} cannot be told absent (make it `optional`)")
        flag = _CLEAR + name if _CLEAR + name in by_name else None
        fields.append(
            _Field(
                name=name,
                time=_is_time(field, where),
                day=date in typing.get_args(hints[name]),
                pair=_pair(field, where),
                flag=flag,
                contradiction=particular.contradictions.get(
                    name, f"set {name} or clear it, not both"
                ),
                empty_clears=flag is None
                and field.type == FieldDescriptor.TYPE_STRING
                and _nullable(hints[name]),
            )
        )
    return _Plan(tuple(fields), particular.nothing or names[0])


def _is_time(field: FieldDescriptor, where: str) -> bool:
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return False
    message = field.message_type
    if message is None or message.full_name != Timestamp.DESCRIPTOR.full_name:
        raise TypeError(f"{where}: {field.name} is a message no patch field takes")
    return True


def _pair(field: FieldDescriptor, where: str) -> pb_enums.EnumPair[Any, Any] | None:
    if field.type != FieldDescriptor.TYPE_ENUM:
        return None
    enum = field.enum_type
    pair = None if enum is None else _PAIRS.get(enum.full_name)
    if enum is None or pair is None:
        raise TypeError(f"{where}: pm_proto/enums.py has no pair for {field.name}'s enum")
    return pair


def _nullable(hint: object) -> bool:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return union and type(None) in typing.get_args(hint)
