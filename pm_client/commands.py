"""Every command of the protocol, read from the schema: its message, its reply, its kind.

Each ``ClientMessage.command`` field is a command: its type is the command
message, and its ``(pm.v1.answered_by)`` option names the ``Reply.result``
field that answers it. :data:`COMMANDS` is built from those descriptors when
the module is imported, so a command added to the schema is known here (and
accepted by :meth:`pm_client.client.PmClient.call`) with no edit;
``make proto`` then regenerates its typed method in :mod:`pm_client.methods`.
A command the table cannot be built for is left out and described in
:data:`PROBLEMS`, which a test requires to be empty.

The helpers at the end are what the generated methods build messages with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeAlias

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import envelope_pb2

#: Commands whose effect belongs to one connection. The schema cannot say
#: which these are: they are the ones whose effect the client's reconnect
#: logic (pm_client.client) restores, by these names.
SESSION: Final = frozenset({"subscribe", "unsubscribe", "join_presence", "leave_presence"})


@dataclass(frozen=True, slots=True)
class Command:
    #: The ``ClientMessage.command`` field name.
    name: str
    message: type[Message]
    #: The ``Reply.result`` field that answers it.
    reply: str
    #: On a dropped connection, True: the caller gets ConnectionLost (what was
    #: in place before is restored by the client itself); False: sent again
    #: with the same request id once reconnected (a read changes nothing; the
    #: server applies a mutation once per request id and answers a repeat
    #: with the reply it stored).
    session: bool

    def result(self, reply: envelope_pb2.Reply) -> Message:
        """The reply's result message (the one this command is answered with)."""
        result: Message = getattr(reply, self.reply)
        return result


def read_commands(
    client_message: Descriptor, reply: Descriptor
) -> tuple[dict[str, Command], list[str]]:
    """The commands of ``client_message``, and why any other could not be read (by name)."""
    answers = {field.name for field in reply.oneofs_by_name["result"].fields}
    commands: dict[str, Command] = {}
    problems: list[str] = []
    owners: dict[str, str] = {}
    for field in client_message.oneofs_by_name["command"].fields:
        where = f"ClientMessage.{field.name}"
        answered_by = field.GetOptions().Extensions[envelope_pb2.answered_by]
        if field.message_type is None:
            problems.append(f"{where} is not a message: a command is one")
        elif not answered_by:
            problems.append(
                f"{where} has no (pm.v1.answered_by) option naming the Reply.result "
                "field that answers it"
            )
        elif answered_by not in answers:
            problems.append(f"{where}: answered_by {answered_by!r} is not a Reply.result field")
        elif field.message_type.full_name in owners:
            problems.append(
                f"{where}: {field.message_type.name} is already the message of "
                f"ClientMessage.{owners[field.message_type.full_name]} (one type per command)"
            )
        else:
            owners[field.message_type.full_name] = field.name
            commands[field.name] = Command(
                name=field.name,
                message=message_factory.GetMessageClass(field.message_type),
                reply=answered_by,
                session=field.name in SESSION,
            )
    problems.extend(
        f"SESSION names {name!r}, which is not a ClientMessage command"
        for name in sorted(SESSION - {field.name for field in client_message.fields})
    )
    return commands, problems


_COMMANDS, _PROBLEMS = read_commands(
    envelope_pb2.ClientMessage.DESCRIPTOR, envelope_pb2.Reply.DESCRIPTOR
)
COMMANDS: Final[Mapping[str, Command]] = _COMMANDS
#: What kept a ``ClientMessage.command`` field out of COMMANDS, one line each.
PROBLEMS: Final[tuple[str, ...]] = tuple(_PROBLEMS)
_BY_TYPE: Final[Mapping[type[Message], Command]] = {c.message: c for c in COMMANDS.values()}


def command_of(message: Message) -> Command:
    """The command ``message`` is the message of; TypeError when none."""
    command = _BY_TYPE.get(type(message))
    if command is None:
        raise TypeError(f"{type(message).__name__} is not the message of any command")
    return command


# ---- what the generated methods build messages with ---------------------------

#: A point in time: an aware datetime, or a protobuf Timestamp as it is.
When: TypeAlias = datetime | Timestamp


def timestamp(value: When | None) -> Timestamp | None:
    if value is None or isinstance(value, Timestamp):
        return value
    return to_timestamp(value)


def set_one_of(message: Message, **given: object) -> None:
    """Set the one member of a ``oneof`` given (not None); ValueError when several are."""
    chosen = {name: value for name, value in given.items() if value is not None}
    if len(chosen) > 1:
        raise ValueError(f"give one of {', '.join(given)}, not several")
    for name, value in chosen.items():
        if isinstance(value, datetime):
            getattr(message, name).CopyFrom(to_timestamp(value))
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
