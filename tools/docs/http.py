"""docs/http.md's tables and docs/openapi.json, from the HTTP door's own tables.

The commands come from :data:`pm_server.rpc.COMMANDS` (the schema's
``ClientMessage`` with the WebSocket's own left out), the statuses from
:data:`pm_server.rpc.HTTP_STATUS`, the document from :mod:`pm_server.openapi`:
a command added to the schema shows up in all three with no edit here.
"""

from __future__ import annotations

from pathlib import Path

from pm_proto.v1 import envelope_pb2
from pm_server import openapi
from pm_server.rpc import COMMANDS, HTTP_STATUS, PREFIX, WEBSOCKET_ONLY
from tools.docs.blocks import cell, table

#: What each code means for a client of the HTTP door.
_RETRY = {
    "RATE_LIMITED": "after `Retry-After` seconds, with the same `Idempotency-Key`",
    "UNAVAILABLE": "with backoff and the same `Idempotency-Key` (unless `retryable` is false)",
    "INTERNAL": "no: report the `errorId`",
}


def commands_table(_root: Path) -> str:
    answered_by = envelope_pb2.answered_by
    fields = envelope_pb2.ClientMessage.DESCRIPTOR.fields_by_name
    rows = []
    for name, command in COMMANDS.items():
        result = fields[name].GetOptions().Extensions[answered_by]
        json_name = envelope_pb2.Reply.DESCRIPTOR.fields_by_name[result].json_name
        rows.append((f"`POST {PREFIX}/{name}`", f"`{command.DESCRIPTOR.name}`", f"`{json_name}`"))
    return table(("operation", "body", "answer's field"), rows)


def websocket_only_table(_root: Path) -> str:
    rows = [(f"`{name}`", cell(why)) for name, why in WEBSOCKET_ONLY.items()]
    return table(("command", "why it needs the WebSocket"), rows)


def statuses_table(_root: Path) -> str:
    names = [value.name for value in envelope_pb2.ErrorCode.DESCRIPTOR.values if value.number]
    rows = [
        (
            f"`{name}`",
            str(HTTP_STATUS[name]) if name in HTTP_STATUS else "503 if `retryable`, else 400",
            cell(_RETRY.get(name, "no: fix the request")),
        )
        for name in names
    ]
    return table(("code", "HTTP status", "retry"), rows)


def openapi_document(_root: Path) -> str:
    return openapi.document_bytes().decode()
