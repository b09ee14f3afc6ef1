"""``GET /v1/openapi.json``: the HTTP door described as OpenAPI 3.1, built from the descriptors.

Nothing here is written by hand per command: the operations are the commands
the HTTP door serves (:data:`pm_server.rpc.COMMANDS`, read from
``ClientMessage``), each answered by the ``Reply.result`` its ``answered_by``
option names, and the schemas are the messages and enums those reach, in
protobuf's canonical JSON mapping (lowerCamelCase names, 64-bit integers as
strings or numbers, enums by name, ``Timestamp`` as RFC 3339, bytes as
base64). A command added to the schema appears here with no edit. The server
builds the document once at startup; ``make docs`` writes the same document
to ``docs/openapi.json`` so a change of the API shows in review, and a test
fails when that copy is stale.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from pm_proto.v1 import envelope_pb2
from pm_server import __version__
from pm_server.rpc import COMMANDS, HTTP_STATUS, IDEMPOTENCY_KEY, JSON, PREFIX, PROTOBUF, message_of

PATH: Final = "/v1/openapi.json"

_INT64: Final = (
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
)
_UINT64: Final = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64)
_INT32: Final = (
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
)
_UINT32: Final = (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32)

#: Well-known types with a JSON form of their own.
_WELL_KNOWN: Final[Mapping[str, Mapping[str, Any]]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
}

#: The statuses every operation may answer besides 200, and when (the codes come from
#: :data:`pm_server.rpc.HTTP_STATUS`; 404, 413 and 415 are also the door's own).
_STATUS_WHEN: Final[Mapping[int, str]] = {
    400: "INVALID_MESSAGE: the body is not the command (or a bad Idempotency-Key)",
    401: "UNAUTHENTICATED: no valid bearer token or API key",
    403: "FORBIDDEN: the caller's role, or a browser origin not allowed",
    404: "NOT_FOUND: what the command names does not exist or is hidden from the caller",
    409: "CONFLICT (a stale expected_version, a duplicate) or DELETE_BLOCKED",
    413: "INVALID_MESSAGE: the body is above PM_MAX_FRAME_BYTES",
    415: "INVALID_MESSAGE: a Content-Type other than application/json or application/x-protobuf",
    422: "VALIDATION_ERROR: a field or a domain rule (the error names the field)",
    429: "RATE_LIMITED: the tenant's rate bucket is empty; retry after Retry-After seconds",
    500: "INTERNAL: a bug; the error_id is in the server log",
    503: "UNAVAILABLE: overloaded, tenant busy, shutting down (retryable); or storage out of "
    "service",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


class _Schemas:
    """The component schemas reached from the messages added so far."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def message(self, descriptor: Descriptor) -> dict[str, Any]:
        """A reference to ``descriptor``'s schema (added with everything it reaches)."""
        known = _WELL_KNOWN.get(descriptor.full_name)
        if known is not None:
            return dict(known)
        name = descriptor.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: a recursive type refers to itself
            properties = {field.json_name: self._field(field) for field in descriptor.fields}
            self.schemas[name] = {
                "type": "object",
                "title": descriptor.name,
                "properties": properties,
                "additionalProperties": False,
            }
        return _ref(name)

    def enum(self, descriptor: EnumDescriptor) -> dict[str, Any]:
        name = descriptor.full_name
        if name not in self.schemas:
            self.schemas[name] = {
                "type": "string",
                "title": descriptor.name,
                "enum": [value.name for value in descriptor.values],
            }
        return _ref(name)

    def _field(self, field: FieldDescriptor) -> dict[str, Any]:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            return {
                "type": "object",
                "additionalProperties": self._single(message.fields_by_name["value"]),
            }
        single = self._single(field)
        if field.is_repeated:
            return {"type": "array", "items": single}
        return single

    def _single(self, field: FieldDescriptor) -> dict[str, Any]:
        kind = field.type
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        if kind in _INT64:
            return _integer_or_string(-(2**63), 2**63 - 1)
        if kind in _UINT64:
            return _integer_or_string(0, 2**64 - 1)
        if kind in _INT32:
            return {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
        if kind in _UINT32:
            return {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return {"type": "number"}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}


def _integer_or_string(low: int, high: int) -> dict[str, Any]:
    # Canonical JSON writes 64-bit integers as strings (JavaScript numbers lose precision
    # past 2^53) and reads either.
    return {"type": ["integer", "string"], "minimum": low, "maximum": high, "pattern": r"^-?\d+$"}


def _answered_by() -> dict[str, str]:
    """The ``Reply.result`` field answering each command (its ``answered_by`` option)."""
    option = envelope_pb2.answered_by
    fields = envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
    out = {field.name: field.GetOptions().Extensions[option] for field in fields}
    for name, result in out.items():
        if result not in envelope_pb2.Reply.DESCRIPTOR.fields_by_name:
            raise ValueError(
                f"proto/pm_proto/v1/envelope.proto: ClientMessage.{name} needs an answered_by "
                f"option naming a Reply.result field (it says {result!r})"
            )
    return out


def _operation(name: str, result: str, schemas: _Schemas) -> dict[str, Any]:
    command = message_of(envelope_pb2.ClientMessage.DESCRIPTOR.fields_by_name[name])
    reply_field = envelope_pb2.Reply.DESCRIPTOR.fields_by_name[result]
    reply_type = message_of(reply_field)
    reply_name = f"Reply.{result}"
    schemas.schemas[reply_name] = {
        "type": "object",
        "title": f"Reply ({result})",
        "properties": {
            "requestId": {"type": "string"},
            reply_field.json_name: schemas.message(reply_type),
        },
        "additionalProperties": False,
    }
    responses: dict[str, Any] = {
        "200": {
            "description": f"The reply: its `{reply_field.json_name}` holds the {reply_type.name}.",
            "content": {JSON: {"schema": _ref(reply_name)}, PROTOBUF: {"schema": _BINARY}},
        }
    }
    for status in _STATUS_WHEN:
        responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    return {
        "operationId": name,
        "summary": f"{command.name}, answered by Reply.{result}",
        "description": (
            f"The body is a `{command.full_name}`; the answer a `pm.v1.Reply` whose "
            f"`{reply_field.json_name}` is a `{reply_type.full_name}`, in the "
            "body's encoding. Same command, rules and roles as over the WebSocket "
            "(docs/protocol.md)."
        ),
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": schemas.message(command)},
                PROTOBUF: {"schema": _BINARY},
            },
        },
        "responses": responses,
    }


_BINARY: Final = {"type": "string", "format": "binary"}


def _error_response(status: int, error: dict[str, str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_WHEN[status],
        "content": {JSON: {"schema": error}, PROTOBUF: {"schema": _BINARY}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds until the request can succeed",
                "schema": {"type": "string", "pattern": r"^\d+$"},
            }
        }
    return response


def build() -> dict[str, Any]:
    """The OpenAPI document of the HTTP door."""
    schemas = _Schemas()
    answered_by = _answered_by()
    paths = {
        f"{PREFIX}/{name}": {"post": _operation(name, answered_by[name], schemas)}
        for name in COMMANDS
    }
    error = schemas.message(envelope_pb2.Error.DESCRIPTOR)
    assert set(HTTP_STATUS.values()) <= set(_STATUS_WHEN), "a status without a description"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pm HTTP API",
            "version": __version__,
            "description": (
                "Every command of the pm protocol but the WebSocket's own, as "
                "`POST /v1/rpc/<command>`. Generated from the protobuf descriptors; "
                "see docs/http.md."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "responses": {
                str(status): _error_response(status, error) for status in sorted(_STATUS_WHEN)
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "The request id: a retry of a mutation with the same key returns the "
                        "first reply and writes nothing"
                    ),
                    "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token (JWT) or an API key (pmk.…)",
                }
            },
        },
        "security": [{"bearer": []}],
    }


@functools.cache
def document_bytes() -> bytes:
    """The document as served and as ``docs/openapi.json`` holds it."""
    return (json.dumps(build(), indent=2, ensure_ascii=False) + "\n").encode()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=document_bytes(), content_type=JSON)
