"""Generated groups: ``pm <entity> create|list|get|update|delete`` from the command descriptors.

Every entity of the registry (:mod:`pm_core.registry`) that has a ``create_<entity>``
command gets a group with a sub-command per CRUD command the schema has for it:
``create_<entity>``, ``get_<entity>``, ``update_<entity>``, ``delete_<entity>``, and the
``list_*`` command whose reply lists its message. A new entity's commands are on the
command line as soon as they are in the schema, with no module here and no edit of
the runner.

The sub-command's arguments come from the command message's fields:

- the id of the row an update, get or delete acts on (its first field, ``<x>_id``)
  is a positional argument, and so is the first plain text field of a create (its
  name or title);
- ``project_id`` is ``--project KEY`` (key or id; default ``PM_PROJECT``); a field
  ending in ``item_id`` takes a display key (``PM-12``) too;
- ``expected_version`` is ``--version N``; ``clear_<field>`` is ``--clear-<field>``,
  which excludes ``--<field>``;
- every other field is ``--<field>`` (``_`` as ``-``): an enum takes its short names,
  a repeated field may be given several times, a time takes ``now``, ``today`` or
  ISO 8601, a flag is a switch. Fields of other message types are left to the
  client library.

A group module of its own (``ENTITY = EntityType.X`` in a module of this package)
takes the entity's group over: it may build on :func:`register_entity` with its
own spelling (the group's name, option names) or write every verb by hand.
Output follows the rest of the CLI: ``--json`` prints the entity (a list: the
reply), otherwise one line or a table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_client.cli.options import (
    Subcommands,
    add_project,
    add_quiet,
    add_version,
    choices,
    enum_arg,
    group,
    parse_time,
)
from pm_client.cli.output import Output, cell, enum_name, local_time, table, to_json
from pm_client.cli.session import Session
from pm_client.commands import COMMANDS, Command
from pm_core.registry import ENTITIES, EntitySpec
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import entities_pb2, envelope_pb2

#: The verbs, in the order a group lists them.
VERBS: Final = ("create", "list", "get", "update", "delete")
_PAST: Final = {"create": "created", "update": "updated", "delete": "deleted"}
#: Fields a list's table leaves out (the JSON has them).
_NOT_SHOWN: Final = frozenset({"project_id", "version", "created_at", "updated_at", "deleted_at"})
_F = FieldDescriptor


@dataclass(frozen=True, slots=True)
class Spelling:
    """How a group module names what is generated for its entity (defaults: from the schema)."""

    #: ``pm NAME``; default: the entity's name with ``-`` for ``_``.
    name: str = ""
    help: str = ""
    description: str = ""
    #: field -> its option (``{"wip_limit": "--wip"}``).
    options: Mapping[str, str] = field(default_factory=dict)


def message_of(spec: EntitySpec) -> Any:
    """The entity's message descriptor (of either protobuf backend: typed Any)."""
    return entities_pb2.DESCRIPTOR.message_types_by_name[spec.model.__name__]


def _reply_type(command: Command) -> Any:
    return envelope_pb2.Reply.DESCRIPTOR.fields_by_name[command.reply].message_type


def _carrier(reply: Any, entity: Any, *, repeated: bool) -> str | None:
    """The field of ``reply`` that holds the entity (one row, or the list)."""
    for candidate in reply.fields:
        if candidate.message_type is entity and candidate.is_repeated == repeated:
            return str(candidate.name)
    return None


def verbs(spec: EntitySpec) -> dict[str, Command]:
    """The CRUD commands the schema has for an entity, by verb."""
    entity = message_of(spec)
    found: dict[str, Command] = {}
    for verb in VERBS:
        if verb == "list":
            lists = [
                c
                for c in COMMANDS.values()
                if c.name.startswith("list_") and _carrier(_reply_type(c), entity, repeated=True)
            ]
            if len(lists) == 1:
                found[verb] = lists[0]
            continue
        command = COMMANDS.get(f"{verb}_{spec.name}")
        if command is not None and _carrier(_reply_type(command), entity, repeated=False):
            found[verb] = command
    return found


def generated_entities() -> list[EntitySpec]:
    """The entities that get a generated group: those with a create command."""
    return [spec for spec in ENTITIES if f"create_{spec.name}" in COMMANDS]


# -- arguments ------------------------------------------------------------------


def _option(name: str, spelling: Spelling) -> str:
    return spelling.options.get(name) or "--" + name.replace("_", "-")


def _scalar_type(descriptor: Any) -> Any:
    if descriptor.type == _F.TYPE_ENUM:
        return enum_arg(descriptor.enum_type)
    if descriptor.type == _F.TYPE_BOOL:
        return None
    if descriptor.type in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
        return float
    if descriptor.type == _F.TYPE_STRING:
        return str
    if descriptor.type == _F.TYPE_MESSAGE:
        is_time = descriptor.message_type.full_name == Timestamp.DESCRIPTOR.full_name
        return parse_time if is_time else None
    return int


def _positional(verb: str, message: Any) -> str | None:
    """The field given as a positional argument, if any."""
    fields = list(message.fields)
    if verb in ("get", "update", "delete"):
        first = fields[0] if fields else None
        ok = first is not None and first.type == _F.TYPE_STRING and first.name.endswith("_id")
        return str(first.name) if ok and first is not None else None
    if verb == "create":
        for candidate in fields:
            plain = candidate.type == _F.TYPE_STRING and not candidate.has_presence
            if plain and not candidate.is_repeated and not candidate.name.endswith("_id"):
                return str(candidate.name)
    return None


def _exclusive(
    parser: argparse.ArgumentParser,
    groups: dict[str, argparse._MutuallyExclusiveGroup],
    name: str,
) -> argparse._MutuallyExclusiveGroup:
    """The group in which ``--<name>`` and ``--clear-<name>`` exclude each other."""
    if name not in groups:
        groups[name] = parser.add_mutually_exclusive_group()
    return groups[name]


def add_fields(
    parser: argparse.ArgumentParser, verb: str, message: Any, spelling: Spelling
) -> None:
    """The sub-command's arguments, one per field of its command message (see the module)."""
    names = {f.name for f in message.fields}
    positional = _positional(verb, message)
    exclusive: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for descriptor in message.fields:
        name = descriptor.name
        kind = _scalar_type(descriptor)
        if name == positional:
            parser.add_argument(name, metavar=name.upper())
        elif name == "expected_version":
            add_version(parser)
        elif name == "project_id":
            add_project(parser)
        elif descriptor.type == _F.TYPE_MESSAGE and kind is None:
            continue  # a nested message: the client library's
        elif name.startswith("clear_") and name.removeprefix("clear_") in names:
            target = name.removeprefix("clear_")
            _exclusive(parser, exclusive, target).add_argument(
                _option(name, spelling), dest=name, action="store_true"
            )
        else:
            owner: Any = parser
            if f"clear_{name}" in names:
                owner = _exclusive(parser, exclusive, name)
            options: dict[str, Any] = {"dest": name}
            if descriptor.type == _F.TYPE_BOOL:
                options["action"] = "store_true"
            else:
                options["type"] = kind
                if descriptor.type == _F.TYPE_ENUM:
                    options["help"] = choices(descriptor.enum_type)
                if descriptor.is_repeated:
                    options["action"] = "append"
            owner.add_argument(_option(name, spelling), **options)
    if verb == "create":
        add_quiet(parser, "id")


async def _value(s: Session, name: str, value: Any) -> Any:
    """What the command line gave, as the command takes it."""
    if name == "project_id":
        return (await s.project(value)).id
    if name.endswith("item_id") and value:
        return await s.item_id(value)
    if hasattr(value, "tzinfo"):
        return to_timestamp(value)
    return value


async def build(s: Session, command: Command, args: argparse.Namespace) -> Message:
    """The command message from the parsed arguments (what was not given is not sent)."""
    message = command.message()
    for descriptor in message.DESCRIPTOR.fields:
        name = descriptor.name
        given = getattr(args, name, None)
        if name == "project_id" and "project" in vars(args):
            given = args.project
        if name == "project_id" and given is None and "project" in vars(args):
            given = ""  # Session.project falls back to PM_PROJECT, or asks for --project
        if given is None or given is False or given == []:
            continue
        value = await _value(s, name, given)
        if descriptor.is_repeated:
            getattr(message, name).extend(value)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# -- output ---------------------------------------------------------------------


def _label(row: Message) -> str:
    for name in ("name", "title", "display_key"):
        if name in row.DESCRIPTOR.fields_by_name and getattr(row, name):
            return f"{getattr(row, name)!r} "
    return ""


def _shown(row: Message, descriptor: Any) -> object:
    value = getattr(row, descriptor.name)
    if descriptor.has_presence and not row.HasField(descriptor.name):
        return ""
    if descriptor.type == _F.TYPE_ENUM:
        return enum_name(descriptor.enum_type, value)
    if descriptor.type == _F.TYPE_MESSAGE:
        return local_time(value) if isinstance(value, Timestamp) else ""
    return cell(value, 40)


def _handler(spec: EntitySpec, verb: str, command: Command) -> Any:
    entity = message_of(spec)
    label = spec.name.replace("_", " ")

    async def run(s: Session, args: argparse.Namespace) -> Output:
        result = await s.pm.call(await build(s, command, args))
        if verb == "list":
            rows_field = _carrier(result.DESCRIPTOR, entity, repeated=True)
            rows = list(getattr(result, rows_field or ""))
            columns = [f for f in entity.fields if f.name not in _NOT_SHOWN and f.name != "id"]
            text = table(
                [*(f.name for f in columns), "id"],
                [[*(_shown(row, f) for f in columns), row.id] for row in rows],
                empty=f"no {label}s",
            )
            return Output(to_json(result), text)
        row = getattr(result, _carrier(result.DESCRIPTOR, entity, repeated=False) or "")
        if verb == "create" and args.quiet:
            return Output(to_json(row), row.id)
        if verb == "get":
            return Output(
                to_json(row), f"{label} {_label(row)}(version {row.version}, id {row.id})"
            )
        past = _PAST[verb]
        return Output(
            to_json(row), f"{past} {label} {_label(row)}(version {row.version}, id {row.id})"
        )

    return run


_HELP: Final = {
    "create": "create a {label}",
    "list": "list {label}s",
    "get": "show one {label}",
    "update": "change a {label}",
    "delete": "delete a {label}",
}


def register_entity(
    commands: Subcommands,
    common: argparse.ArgumentParser,
    spec: EntitySpec,
    spelling: Spelling | None = None,
) -> Callable[..., argparse.ArgumentParser]:
    """Add ``pm <entity>`` with a sub-command per CRUD command of the entity; returns the
    group's ``add`` (:func:`pm_client.cli.options.group`) for a module's own verbs."""
    spelling = spelling or Spelling()
    found = verbs(spec)
    label = spec.name.replace("_", " ")
    name = spelling.name or spec.name.replace("_", "-")
    default_help = f"{label}s: {', '.join(found)}"
    add = group(
        commands,
        common,
        name,
        spelling.help or default_help,
        description=spelling.description,
    )
    for verb, command in found.items():
        leaf = add(verb, _handler(spec, verb, command), _HELP[verb].format(label=label))
        leaf.set_defaults(sends=command.name)  # which command it sends (tests read it)
        add_fields(leaf, verb, command.message.DESCRIPTOR, spelling)
    return add
