"""The client's command surface is the schema's: a table read from it, methods generated from it."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.descriptor_pb2 import (
    DescriptorProto,
    FieldDescriptorProto,
    FileDescriptorProto,
)
from google.protobuf.message import Message

from pm_client import PmClient, codegen
from pm_client.commands import COMMANDS, PROBLEMS, SESSION, Command, read_commands
from pm_client.handshake import ws_url
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_COMMANDS: dict[str, str] = {
    field.name: field.message_type.name  # type: ignore[union-attr]
    for field in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
}
REPLY_FIELDS: dict[str, str] = {
    field.name: field.message_type.name  # type: ignore[union-attr]
    for field in envelope_pb2.Reply.DESCRIPTOR.oneofs_by_name["result"].fields
}
AT = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


class Recorder(PmClient):
    """A client that records what it would send and answers with an empty reply."""

    def __init__(self) -> None:
        super().__init__("ws://127.0.0.1:1/v1/ws", "token")
        self.sent: list[tuple[str, Message]] = []

    async def request(
        self,
        command: str,
        message: Message,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> envelope_pb2.Reply:
        self.sent.append((command, message))
        reply = envelope_pb2.Reply()
        getattr(reply, COMMANDS[command].reply).SetInParent()
        return reply


# ---- the table, read from the schema ------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
def test_every_command_of_the_schema_is_in_the_client_table(name: str):
    problems = [problem for problem in PROBLEMS if f"ClientMessage.{name} " in problem + " "]
    assert not problems, "; ".join(problems)
    assert name in COMMANDS, f"ClientMessage.{name} is missing from pm_client.commands.COMMANDS"
    assert COMMANDS[name].message.DESCRIPTOR.name == SCHEMA_COMMANDS[name]
    assert COMMANDS[name].reply in REPLY_FIELDS


def test_the_table_reads_every_command_and_knows_each_session_command():
    assert PROBLEMS == ()
    assert set(COMMANDS) == set(SCHEMA_COMMANDS)
    assert {name for name, command in COMMANDS.items() if command.session} == SESSION


def _envelope_pool(edit: Any, *extra: FileDescriptorProto) -> descriptor_pool.DescriptorPool:
    """A pool holding the schema and ``extra`` files, with ``edit`` applied to ClientMessage."""
    pool = descriptor_pool.DescriptorPool()
    for module in (descriptor_pb2, timestamp_pb2, entities_pb2, commands_pb2, events_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    envelope = FileDescriptorProto.FromString(envelope_pb2.DESCRIPTOR.serialized_pb)
    for file in extra:
        pool.Add(file)
        envelope.dependency.append(file.name)
    [client_message] = [m for m in envelope.message_type if m.name == "ClientMessage"]
    edit(client_message)
    pool.Add(envelope)
    return pool


def _field(message: DescriptorProto, name: str) -> FieldDescriptorProto:
    [field] = [field for field in message.field if field.name == name]
    return field


def _without_option(client_message: DescriptorProto) -> None:
    _field(client_message, "create_sprint").options.ClearExtension(envelope_pb2.answered_by)


def _unknown_reply(client_message: DescriptorProto) -> None:
    options = _field(client_message, "create_sprint").options
    options.Extensions[envelope_pb2.answered_by] = "sprint_thing"


def _reused_message(client_message: DescriptorProto) -> None:
    _field(client_message, "create_sprint").type_name = ".pm.v1.CreateProject"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_without_option, "ClientMessage.create_sprint has no (pm.v1.answered_by) option"),
        (_unknown_reply, "ClientMessage.create_sprint: answered_by 'sprint_thing' is not a Reply"),
        (_reused_message, "ClientMessage.create_sprint: CreateProject is already the message of"),
    ],
)
def test_a_command_the_table_cannot_read_is_named_and_left_out(edit: Any, expected: str):
    pool = _envelope_pool(edit)
    commands, problems = read_commands(
        pool.FindMessageTypeByName("pm.v1.ClientMessage"),
        pool.FindMessageTypeByName("pm.v1.Reply"),
    )
    assert [problem for problem in problems if problem.startswith(expected)] == problems
    assert len(problems) == 1
    assert "create_sprint" not in commands
    assert len(commands) == len(COMMANDS) - 1


def test_a_command_added_to_the_schema_is_read_and_generated_with_no_client_edit():
    badges = FileDescriptorProto(name="pm_proto/v1/badges.proto", package="pm.v1")
    badges.dependency.append("pm_proto/v1/entities.proto")
    message = badges.message_type.add(name="ListBadges")
    message.field.add(name="project_id", number=1, type=FieldDescriptorProto.TYPE_STRING)
    statuses = message.field.add(name="statuses", number=2, type=FieldDescriptorProto.TYPE_ENUM)
    statuses.type_name = ".pm.v1.WorkItemStatus"
    statuses.label = FieldDescriptorProto.LABEL_REPEATED

    def add_list_badges(client_message: DescriptorProto) -> None:
        field = client_message.field.add()
        field.CopyFrom(_field(client_message, "ping"))
        field.name, field.json_name, field.number = "list_badges", "listBadges", 130
        field.type_name = ".pm.v1.ListBadges"
        field.options.Extensions[envelope_pb2.answered_by] = "ack"

    pool = _envelope_pool(add_list_badges, badges)
    commands, problems = read_commands(
        pool.FindMessageTypeByName("pm.v1.ClientMessage"),
        pool.FindMessageTypeByName("pm.v1.Reply"),
    )
    assert problems == []
    assert set(commands) == {*COMMANDS, "list_badges"}
    assert (commands["list_badges"].reply, commands["list_badges"].session) == ("ack", False)
    source = codegen.render({"list_badges": commands["list_badges"]}, pool)
    imports = "from pm_proto.v1 import badges_pb2, commands_pb2, entities_pb2, envelope_pb2\n"
    assert imports in source
    assert "WorkItemStatus: TypeAlias = entities_pb2.WorkItemStatus.ValueType\n" in source
    assert (
        "    async def list_badges(\n"
        "        self,\n"
        "        *,\n"
        '        project_id: str = "",\n'
        "        statuses: Iterable[WorkItemStatus] = (),\n"
        "    ) -> commands_pb2.Ack:\n"
    ) in source
    compile(source, "methods.py", "exec")


# ---- the generated methods ----------------------------------------------------


def test_generated_methods_are_current():
    committed = (ROOT / codegen.OUTPUT).read_text(encoding="utf-8")
    methods = set(re.findall(r"^    async def (\w+)\(", committed, re.MULTILINE))
    missing = sorted(set(COMMANDS) - methods)
    assert not missing, f"{codegen.OUTPUT} has no method for {missing}: run `make proto`"
    extra = sorted(methods - set(COMMANDS) - {"request", "call"})
    assert not extra, f"{codegen.OUTPUT} has methods for no command {extra}: run `make proto`"
    assert committed == codegen.render(COMMANDS), f"{codegen.OUTPUT} is stale: run `make proto`"


def _command_with(field: str, *, map_field: bool = False) -> Command:
    """A command whose message has one string (or map) field, in a file new to the pool."""
    name = f"Odd{field.title()}"
    file = FileDescriptorProto(name=f"pm_test/{field}.proto", package="pm.test")
    message = file.message_type.add(name=name)
    added = message.field.add(name=field, number=1, type=FieldDescriptorProto.TYPE_STRING)
    if map_field:
        entry = message.nested_type.add(name="Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=FieldDescriptorProto.TYPE_STRING)
        entry.field.add(name="value", number=2, type=FieldDescriptorProto.TYPE_STRING)
        added.type = FieldDescriptorProto.TYPE_MESSAGE
        added.type_name = f".pm.test.{name}.Entry"
        added.label = FieldDescriptorProto.LABEL_REPEATED
    descriptor_pool.Default().Add(file)
    descriptor = descriptor_pool.Default().FindMessageTypeByName(f"pm.test.{name}")
    klass = message_factory.GetMessageClass(descriptor)
    return Command(name=f"odd_{field}", message=klass, reply="ack", session=False)


def test_generator_names_the_command_whose_field_cannot_be_an_argument():
    command = _command_with("from")
    with pytest.raises(codegen.SchemaError, match=r"ClientMessage.odd_from \(OddFrom.from\)"):
        codegen.render({command.name: command})


def test_generator_names_the_command_with_a_map_field():
    command = _command_with("tags", map_field=True)
    with pytest.raises(codegen.SchemaError, match=r"odd_tags .* map fields are not supported"):
        codegen.render({command.name: command})


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
def test_every_command_has_a_typed_method_taking_its_message_fields(name: str):
    method = getattr(PmClient, name, None)
    assert method is not None, f"PmClient has no method {name}: run `make proto`"
    parameters = set(inspect.signature(method).parameters) - {"self"}
    fields = {field.name for field in COMMANDS[name].message.DESCRIPTOR.fields}
    assert parameters == fields, f"{name}: arguments {parameters} != fields {fields}"


def _sample(field: Any) -> Any:
    """A value for ``field`` that is not its default."""
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return AT
        return message_factory.GetMessageClass(field.message_type)()
    if field.enum_type is not None:
        return field.enum_type.values[-1].number
    return {
        FieldDescriptor.TYPE_STRING: field.name,
        FieldDescriptor.TYPE_BOOL: True,
        FieldDescriptor.TYPE_DOUBLE: 1.5,
    }.get(field.type, 7)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        (name, field.name)
        for name, command in sorted(COMMANDS.items())
        for field in command.message.DESCRIPTOR.fields
    ],
)
async def test_every_typed_method_argument_sets_its_own_field_and_no_other(name: str, field: str):
    descriptor = COMMANDS[name].message.DESCRIPTOR.fields_by_name[field]
    value = _sample(descriptor)
    recorder = Recorder()
    result = await getattr(recorder, name)(**{field: [value] if descriptor.is_repeated else value})
    [(command, message)] = recorder.sent
    assert (command, type(message)) == (name, COMMANDS[name].message)
    assert [f.name for f, _ in message.ListFields()] == [field] or (
        isinstance(value, Message) and message.HasField(field)  # an empty message: no ListFields
    )
    sent = getattr(message, field)
    if descriptor.is_repeated:
        assert list(sent) == [value]
    else:
        assert sent == (to_timestamp(value) if isinstance(value, datetime) else value)
    assert result.DESCRIPTOR.name == REPLY_FIELDS[COMMANDS[name].reply]


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
async def test_every_typed_method_without_arguments_sends_the_default_message(name: str):
    recorder = Recorder()
    await getattr(recorder, name)()
    assert recorder.sent == [(name, COMMANDS[name].message())]


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
async def test_call_sends_any_command_message_and_returns_its_result(name: str):
    recorder = Recorder()
    message = COMMANDS[name].message()
    result = await recorder.call(message)
    assert recorder.sent == [(name, message)]
    assert result.DESCRIPTOR.name == REPLY_FIELDS[COMMANDS[name].reply]


async def test_call_is_typed_by_the_command_message():
    recorder = Recorder()
    pong: commands_pb2.Pong = await recorder.call(commands_pb2.Ping(nonce=3))
    assert isinstance(pong, commands_pb2.Pong)
    assert recorder.sent == [("ping", commands_pb2.Ping(nonce=3))]


async def test_call_with_a_message_that_is_no_command_is_refused_before_sending():
    recorder = Recorder()
    with pytest.raises(TypeError, match="ProjectReply is not the message of any command"):
        await recorder.call(commands_pb2.ProjectReply())
    assert recorder.sent == []


async def test_update_method_leaves_absent_optional_fields_unset():
    recorder = Recorder()
    await recorder.update_work_item(item_id="i1", title="New", sprint_id="")
    message = recorder.sent[0][1]
    assert isinstance(message, commands_pb2.UpdateWorkItem)
    assert message.HasField("title")
    assert message.HasField("sprint_id")  # "" = move to the backlog: sent
    assert not message.HasField("status")
    assert not message.HasField("parent_id")


async def test_subscribe_with_resume_sends_the_position():
    recorder = Recorder()
    await recorder.subscribe(["p1", "p2"], resume=("epoch-1", 42))
    message = recorder.sent[0][1]
    assert isinstance(message, commands_pb2.Subscribe)
    assert list(message.project_ids) == ["p1", "p2"]
    assert (message.resume.epoch, message.resume.seq) == ("epoch-1", 42)


async def test_get_by_two_identities_at_once_is_refused_before_sending():
    recorder = Recorder()
    with pytest.raises(ValueError, match="not several"):
        await recorder.get_work_item(item_id="i1", display_key="PM-1")
    assert recorder.sent == []


async def test_activity_of_an_entity_sends_the_entity_and_no_project():
    recorder = Recorder()
    ref = commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_WORK_ITEM, id="i1")
    await recorder.list_activity(entity=ref, limit=5)
    message = recorder.sent[0][1]
    assert isinstance(message, commands_pb2.ListActivity)
    assert message.WhichOneof("scope") == "entity"
    assert message.entity == ref
    assert message.limit == 5


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ws://127.0.0.1:8700/v1/ws", "ws://127.0.0.1:8700/v1/ws"),
        ("http://127.0.0.1:8700", "ws://127.0.0.1:8700/v1/ws"),
        ("https://pm.example.com/", "wss://pm.example.com/v1/ws"),
        ("wss://pm.example.com/custom/ws", "wss://pm.example.com/custom/ws"),
    ],
)
def test_server_url_is_normalised_to_the_websocket_endpoint(given: str, expected: str):
    assert ws_url(given) == expected


@pytest.mark.parametrize("bad", ["127.0.0.1:8700", "ftp://host/", "ws://"])
def test_server_url_without_a_usable_scheme_and_host_is_refused(bad: str):
    with pytest.raises(ValueError, match="not a pm server URL"):
        ws_url(bad)
