"""docs/protocol.md's command table, from the schema.

A row per ``ClientMessage.command`` field, in the schema's order: the command,
its reply (the ``answered_by`` option) and, from the leading comment of the
command's message in ``commands.proto``, the role it needs (the comment's
``role: ...`` line) and its notes (the comment's other lines). The comments
are read from a descriptor set that protoc writes with source info (the
generated ``*_pb2`` modules carry no comments).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from google.protobuf.descriptor_pb2 import FileDescriptorProto, FileDescriptorSet

from pm_client.commands import COMMANDS, PROBLEMS
from pm_proto.v1 import envelope_pb2
from tools.docs.blocks import DocError, cell, table

COMMANDS_PROTO: Final = "pm_proto/v1/commands.proto"
#: ``FileDescriptorProto.message_type``: a top-level message's source location path starts so.
_MESSAGE_TYPE: Final = FileDescriptorProto.MESSAGE_TYPE_FIELD_NUMBER
_ROLE: Final = "role:"


def command_comments(root: Path) -> Mapping[str, str]:
    """The leading comment of each top-level message of ``commands.proto``, by message name."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "commands.pb"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                "-Iproto",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                f"proto/{COMMANDS_PROTO}",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DocError(f"protoc failed on proto/{COMMANDS_PROTO}: {result.stderr.strip()}")
        files = FileDescriptorSet.FromString(out.read_bytes()).file
    (proto,) = (f for f in files if f.name == COMMANDS_PROTO)
    comments = {}
    for location in proto.source_code_info.location:
        path = list(location.path)
        if len(path) == 2 and path[0] == _MESSAGE_TYPE:
            comments[proto.message_type[path[1]].name] = location.leading_comments
    return comments


def role_and_notes(comment: str, *, message: str) -> tuple[str, str]:
    """The ``role:`` line of a command's comment, and the other lines as one text."""
    lines = [line.strip() for line in comment.splitlines() if line.strip()]
    roles = [line.removeprefix(_ROLE).strip() for line in lines if line.startswith(_ROLE)]
    if len(roles) != 1 or not roles[0]:
        raise DocError(
            f"proto/{COMMANDS_PROTO}: message {message} needs a leading comment with one "
            "`// role: <who may send it>` line (and any notes for docs/protocol.md on the lines "
            "before it); then run make proto"
        )
    notes = " ".join(line for line in lines if not line.startswith(_ROLE))
    return roles[0], notes


def commands_table(root: Path) -> str:
    comments = command_comments(root)
    rows = []
    for field in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields:
        command = COMMANDS.get(field.name)
        if command is None:
            raise DocError(f"proto/pm_proto/v1/envelope.proto: {'; '.join(PROBLEMS)}")
        message = command.message.DESCRIPTOR.name
        role, notes = role_and_notes(comments.get(message, ""), message=message)
        rows.append((f"`{command.name}`", f"`{command.reply}`", cell(role), cell(notes)))
    note = (
        f"<!-- From the comments of proto/{COMMANDS_PROTO} by make proto: "
        "edit them, not this table. -->"
    )
    return note + "\n\n" + table(("command", "reply", "role", "notes"), rows)
