"""Every command in the schema has a handler, and every handler a command of its type."""

from __future__ import annotations

import inspect
import typing

import pytest

from pm_proto.v1 import envelope_pb2
from pm_server.dispatch import HANDLERS

COMMANDS = {
    field.name: field
    for field in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
}


def test_every_command_has_a_handler_and_every_handler_a_command() -> None:
    unhandled = sorted(set(COMMANDS) - set(HANDLERS))
    assert not unhandled, f"pm_server/dispatch.py has no handler for {unhandled}"
    stale = sorted(set(HANDLERS) - set(COMMANDS))
    assert not stale, f"pm_server/dispatch.py: {stale} are not ClientMessage commands"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_handler_takes_its_command_message_and_returns_a_reply(name: str) -> None:
    handler = HANDLERS.get(name)
    assert handler is not None, (
        f"pm_server/dispatch.py has no handler for {name} (write it in pm_server/handlers/)"
    )
    assert inspect.iscoroutinefunction(handler)
    hints = typing.get_type_hints(handler)
    command_type = COMMANDS[name].message_type
    assert command_type is not None
    assert hints["cmd"].DESCRIPTOR.full_name == command_type.full_name
    # A read answers with a Reply; a mutation with its Reply encoded once, at the commit.
    assert hints["return"] in (envelope_pb2.Reply, bytes)
