"""The client's command surface matches the schema: one typed method per command."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_client import PmClient
from pm_client.commands import COMMANDS, CommandMethods
from pm_client.handshake import ws_url
from pm_proto.v1 import commands_pb2, envelope_pb2

SCHEMA_COMMANDS: dict[str, str] = {
    field.name: field.message_type.name  # type: ignore[union-attr]
    for field in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
}
REPLY_FIELDS: dict[str, str] = {
    field.name: field.message_type.name  # type: ignore[union-attr]
    for field in envelope_pb2.Reply.DESCRIPTOR.oneofs_by_name["result"].fields
}


class Recorder(CommandMethods):
    """Records what each typed method sends and answers with an empty reply."""

    def __init__(self) -> None:
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


def dummy(annotation: Any) -> Any:
    """A value of the annotated type, good enough to build the message."""
    text = str(annotation)
    if text.startswith("Iterable") or text.startswith("Sequence"):
        return []
    if "When" in text:
        return Timestamp(seconds=1)
    if "str" in text:
        return "x"
    return 1


def test_command_table_covers_every_command_of_the_schema():
    assert set(COMMANDS) == set(SCHEMA_COMMANDS)
    for name, spec in COMMANDS.items():
        assert spec.message.DESCRIPTOR.name == SCHEMA_COMMANDS[name], name
        assert spec.reply in REPLY_FIELDS, name


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
def test_every_command_has_a_typed_method_taking_its_message_fields(name: str):
    method = getattr(PmClient, name, None)
    assert method is not None, f"PmClient has no method {name}"
    parameters = set(inspect.signature(method).parameters) - {"self"}
    fields = {field.name for field in COMMANDS[name].message.DESCRIPTOR.fields}
    assert parameters == fields, f"{name}: arguments {parameters} != fields {fields}"


@pytest.mark.parametrize("name", sorted(SCHEMA_COMMANDS))
async def test_every_typed_method_sends_its_command_and_returns_the_reply_result(name: str):
    recorder = Recorder()
    method = getattr(recorder, name)
    required = {
        parameter.name: dummy(parameter.annotation)
        for parameter in inspect.signature(method).parameters.values()
        if parameter.default is inspect.Parameter.empty
    }
    result = await method(**required)
    [(command, message)] = recorder.sent
    assert command == name
    assert type(message) is COMMANDS[name].message
    assert result.DESCRIPTOR.name == REPLY_FIELDS[COMMANDS[name].reply]


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
