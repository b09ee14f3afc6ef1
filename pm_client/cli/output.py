"""What the client commands print: JSON documents for programs, tables and lines for people.

JSON (``--json``) is built from the protobuf messages by one generic rule, so
it follows the schema in ``proto/`` field for field:

- field names as in the schema (``display_key``, ``story_points``);
- enums as their short lower-case names (``in_progress``, ``relates_to``),
  the same words the commands accept;
- times as UTC ISO 8601 strings (``2026-03-01T09:30:00.000000Z``);
- absent optional values and unset messages as ``null``; a ``oneof`` shows
  only the member that is set (an event's ``work_item``, say).

Human output shows times in local time and leaves ids out where a key says
more (``PM-12`` rather than the item's id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_proto.v1.entities_pb2 import USER_KIND_AGENT

JsonValue = Any

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_CELL: Final = 60


@dataclass(frozen=True, slots=True)
class Output:
    """The result of one command: ``data`` for ``--json``, ``text`` for people."""

    data: JsonValue
    text: str


# -- enums -------------------------------------------------------------------


def _prefix(descriptor: EnumDescriptor) -> str:
    """``WORK_ITEM_STATUS_`` for WorkItemStatus: the part every value name shares."""
    names = [value.name for value in descriptor.values]
    unspecified = next((n for n in names if n.endswith("_UNSPECIFIED")), "")
    return unspecified[: -len("UNSPECIFIED")]


def enum_name(descriptor: EnumDescriptor, number: int) -> str:
    """The short name of an enum value (``in_progress``); its number if unknown."""
    value = descriptor.values_by_number.get(number)
    if value is None:
        return str(number)
    return value.name.removeprefix(_prefix(descriptor)).lower()


def enum_choices(descriptor: EnumDescriptor) -> list[str]:
    """The short names of every value but UNSPECIFIED."""
    return [enum_name(descriptor, value.number) for value in descriptor.values if value.number]


def enum_value(descriptor: EnumDescriptor, name: str) -> int:
    """The number of a short name (``in-progress`` and ``IN_PROGRESS`` work too)."""
    wanted = name.strip().lower().replace("-", "_").replace(" ", "_")
    for value in descriptor.values:
        if value.number and enum_name(descriptor, value.number) == wanted:
            return int(value.number)
    raise ValueError(f"{name!r} is not one of {', '.join(enum_choices(descriptor))}")


# -- times -------------------------------------------------------------------


def actor(actor_id: str, kind: int) -> str:
    """Who did it, as people read it: an agent (an API key's user) says so."""
    if actor_id and kind == USER_KIND_AGENT:
        return f"{actor_id} (agent)"
    return actor_id


def to_datetime(ts: Timestamp) -> datetime:
    return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def iso(ts: Timestamp) -> str:
    """UTC ISO 8601 with microseconds and a Z, as the server stores times."""
    return to_datetime(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def local_time(ts: Timestamp | None, *, seconds: bool = False) -> str:
    """A time for people, in local time (``2026-03-01 10:30``); "" when absent."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    return (
        to_datetime(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    )


def duration(seconds: float) -> str:
    """``1h 05m``, ``12m``, ``40s``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


# -- JSON --------------------------------------------------------------------


def to_json(message: Message) -> dict[str, JsonValue]:
    """A protobuf message as a JSON-ready dict (see the module docstring)."""
    out: dict[str, JsonValue] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        if field.is_repeated:
            out[name] = [_value(field, item) for item in getattr(message, name)]
            continue
        if field.has_presence and not message.HasField(name):
            oneof = field.containing_oneof
            if oneof is not None and not _synthetic(oneof.name, len(oneof.fields)):
                continue  # a real oneof: only its set member is shown
            out[name] = None
            continue
        out[name] = _value(field, getattr(message, name))
    return out


def _synthetic(oneof_name: str, members: int) -> bool:
    """Whether a oneof is the hidden one of a proto3 ``optional`` field."""
    return members == 1 and oneof_name.startswith("_")


def _value(field: Any, value: Any) -> JsonValue:
    """One field's value (``field`` is a FieldDescriptor, of either protobuf backend)."""
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_name(field.enum_type, value)
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == Timestamp.DESCRIPTOR.full_name:
            return iso(value)
        return to_json(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return value.hex()
    return value


def dumps(data: JsonValue) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def dumps_line(data: JsonValue) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# -- tables ------------------------------------------------------------------


def cell(value: object, width: int = _MAX_CELL) -> str:
    """One table cell: on one line, cut to ``width`` characters."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str = "") -> str:
    """Rows under upper-case headers, columns aligned; ``empty`` when there are no rows."""
    body = [[cell(value) for value in row] for row in rows]
    if not body:
        return empty
    head = [h.upper() for h in headers]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in [head, *body]
    ]
    return "\n".join(lines)


def fields(pairs: Iterable[tuple[str, object]]) -> str:
    """``name: value`` lines, names aligned; empty values left out."""
    shown = [(name, str(value)) for name, value in pairs if value not in (None, "")]
    width = max((len(name) for name, _ in shown), default=0)
    return "\n".join(f"{(name + ':').ljust(width + 1)} {value}" for name, value in shown)
