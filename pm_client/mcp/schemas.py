"""JSON Schemas of the MCP tools, derived from the commands' protobuf descriptors.

Nothing here is written per command: a tool's input schema is its command
message's fields (proto names), typed by the protobuf JSON mapping, and its
description is the command's comment in the shipped ``commands.proto`` (the
notes and the ``role:`` line that docs/protocol.md's table shows). Enum
values are given by their short names (``task``, ``in_progress``: the value's
name without the enum's prefix), which :func:`to_message` turns back into the
protobuf names before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

import pm_proto.v1

Json = dict[str, Any]

COMMANDS_PROTO: Final = Path(pm_proto.v1.__file__).parent / "commands.proto"
_COMMENTED_MESSAGE: Final = re.compile(r"((?:^[ \t]*//[^\n]*\n)+)message (\w+) \{", re.M)
_INTEGERS: Final = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_NUMBERS: Final = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
TIMESTAMP: Final = "google.protobuf.Timestamp"


def enum_prefix(enum: EnumDescriptor) -> str:
    """``WORK_ITEM_TYPE_`` of ``WorkItemType``: its zero value's name without ``UNSPECIFIED``."""
    zero = enum.values_by_number[0].name
    return zero.removesuffix("UNSPECIFIED")


def short_names(enum: EnumDescriptor) -> list[str]:
    """The values a tool takes: ``task``, ``in_progress`` ... (the zero value left out)."""
    prefix = enum_prefix(enum)
    return [v.name.removeprefix(prefix).lower() for v in enum.values if v.number != 0]


def _field_schema(field: FieldDescriptor, hints: Mapping[str, str]) -> Json:
    schema: Json
    if field.enum_type is not None:
        schema = {"type": "string", "enum": short_names(field.enum_type)}
    elif field.message_type is not None and field.message_type.full_name == TIMESTAMP:
        schema = {"type": "string", "format": "date-time"}
    elif field.message_type is not None:
        schema = message_schema(field.message_type, hints)
    elif field.type == FieldDescriptor.TYPE_BOOL:
        schema = {"type": "boolean"}
    elif field.type in _INTEGERS:
        schema = {"type": "integer"}
    elif field.type in _NUMBERS:
        schema = {"type": "number"}
    else:  # strings (and bytes, base64 in the JSON mapping)
        schema = {"type": "string"}
    if field.name in hints:
        schema["description"] = hints[field.name]
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def message_schema(descriptor: Descriptor, hints: Mapping[str, str] = {}) -> Json:
    """The JSON Schema of a message: an object of its fields by their proto names."""
    schema: Json = {
        "type": "object",
        "properties": {f.name: _field_schema(f, hints) for f in descriptor.fields},
        "additionalProperties": False,
    }
    choices = [
        [f.name for f in oneof.fields]
        for oneof in descriptor.oneofs
        if len(oneof.fields) > 1 or not oneof.name.startswith("_")
    ]
    if choices:
        schema["description"] = "; ".join(f"at most one of {', '.join(c)}" for c in choices)
    return schema


@cache
def command_comments() -> Mapping[str, list[str]]:
    """The comment above each message of the shipped ``commands.proto``, by message name."""
    text = COMMANDS_PROTO.read_text(encoding="utf-8")
    comments: dict[str, list[str]] = {}
    for match in _COMMENTED_MESSAGE.finditer(text):
        lines = [line.strip().removeprefix("//").strip() for line in match[1].splitlines()]
        comments[match[2]] = lines
    return comments


def describe(descriptor: Descriptor) -> str:
    """A command's notes and role, as its comment in ``commands.proto`` gives them."""
    lines = command_comments().get(descriptor.name, [])
    notes = " ".join(line for line in lines if line and not line.startswith("role:"))
    roles = [line.removeprefix("role:").strip() for line in lines if line.startswith("role:")]
    role = f" Who may call it: {roles[0]}." if roles else ""
    return f"{notes[:1].upper()}{notes[1:]}.{role}" if notes else role.strip()


def _protobuf_names(value: Any, descriptor: Descriptor) -> Any:
    """``arguments`` with each enum's short name turned into its protobuf name."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, given in value.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            continue
        items = given if field.is_repeated and isinstance(given, list) else None
        convert: Any
        if field.enum_type is not None:
            prefix = enum_prefix(field.enum_type)

            def convert(v: Any, prefix: str = prefix) -> Any:
                if not isinstance(v, str) or v.upper().startswith(prefix):
                    return v.upper() if isinstance(v, str) else v
                return f"{prefix}{v.upper()}"

        elif field.message_type is not None and field.message_type.full_name != TIMESTAMP:

            def convert(v: Any, message: Descriptor = field.message_type) -> Any:
                return _protobuf_names(v, message)

        else:
            continue
        out[name] = [convert(v) for v in items] if items is not None else convert(given)
    return out


def to_message(
    message_type: type[Message], descriptor: Descriptor, arguments: Mapping[str, Any]
) -> Message:
    """The command message (of ``descriptor``) of a tool call's arguments; ParseError when
    they do not fit."""
    message = message_type()
    json_format.ParseDict(_protobuf_names(dict(arguments), descriptor), message)
    return message


def to_json(message: Message) -> Json:
    """A reply as JSON: proto field names, enums by name, defaults included."""
    data: Json = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    return data
