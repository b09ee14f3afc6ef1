"""``POST /v1/rpc/<command>``: the commands of the protocol over plain HTTP.

A thin door beside the WebSocket (:mod:`pm_server.ws`): it reads one command
and who sends it, and hands it to :func:`pm_server.commands.run_command`,
the same dispatch table, handlers, authorisation, idempotency and deadline.
What it adds is only what HTTP needs:

- **Encodings.** The body is the command message (``CreateProject``, not the
  WebSocket's ``ClientMessage`` envelope) in protobuf's canonical JSON mapping
  (``Content-Type: application/json``) or binary (``application/x-protobuf``);
  the answer, a ``Reply`` or an ``Error``, comes in the same encoding. An empty
  body is the command with every field at its default.
- **Who.** ``Authorization: Bearer <token>``: an access token or an API key,
  verified as on the WebSocket (no query-string token: URLs get logged). A
  token's user row is written from its claims as on connect, once per user and
  tenant database while the claims stay the same (:class:`Provisioned`).
- **Idempotency.** The ``Idempotency-Key`` header is the request id (1-128
  characters): a retry of a mutation with the same key returns the stored
  reply, whether the first attempt came over HTTP or the WebSocket. Without
  the header the server picks a fresh id, so a retry writes again.
- **Limits.** A request counts as an open connection of its user and tenant
  while it runs (the same caps, 503 when full) and spends a token of its
  caller's rate bucket (one per token subject or API key, at a connection's
  rate) and of the tenant's, the one its WebSocket connections share (429 with
  ``Retry-After``); the body is bounded by ``PM_MAX_FRAME_BYTES`` (413); a
  browser's ``Origin`` must pass the WebSocket's rule (403).
- **Errors.** The protocol's ``Error`` (same codes and fields) with the HTTP
  status of its code (:data:`HTTP_STATUS`).
- **A cluster.** A request for a tenant another process owns is forwarded to
  it and answered with its answer (:mod:`pm_server.relay`).

The commands bound to a connection (:data:`WEBSOCKET_ONLY`) are not served
here. ``docs/http.md`` documents all of it; ``GET /v1/openapi.json``
(:mod:`pm_server.openapi`) describes every operation.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Final

from aiohttp import web
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from pm_auth.secrets import SecretKind, looks_like, parse_secret
from pm_auth.tokens import Principal
from pm_core.errors import (
    ForbiddenError,
    InvalidMessageError,
    NotFoundError,
    PmError,
    RateLimitedError,
    TenantGoneError,
    UnauthenticatedError,
    UnavailableError,
)
from pm_proto.v1 import envelope_pb2
from pm_server import logs
from pm_server.api_keys import verify_api_key
from pm_server.commands import run_command
from pm_server.context import Answer
from pm_server.dispatch import HANDLERS
from pm_server.errors import error_message
from pm_server.limits import LIMITS, REFUSED_ORIGIN, origin_allowed
from pm_server.relay import owner_elsewhere
from pm_server.state import STATE, ServerState

PREFIX: Final = "/v1/rpc"
JSON: Final = "application/json"
PROTOBUF: Final = "application/x-protobuf"
MAX_REQUEST_ID: Final = 128
#: A header's value is whatever bytes the client sent: keys are held to visible ASCII.
IDEMPOTENCY_KEY: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_REQUEST_ID}}}")
#: How many (tenant, user) pairs :class:`Provisioned` remembers.
PROVISIONED_CAP: Final = 10_000

#: The commands bound to a WebSocket connection, and why: they are refused here.
WEBSOCKET_ONLY: Final[Mapping[str, str]] = {
    "subscribe": "events are pushed to the subscribing connection",
    "unsubscribe": "ends a subscription of a connection",
    "ping": "keeps a connection alive",
    "join_presence": "presence lasts while the connection is open",
    "leave_presence": "presence lasts while the connection is open",
    "list_presence": "presence is a property of open connections, read beside them",
    "reauthenticate": "moves the token deadline of an open connection",
}

#: The HTTP status of each error code (INVALID_MESSAGE is also 413 for a body too large
#: and 415 for an encoding not served; an unknown command is 404 NOT_FOUND). A code added
#: to the schema and missing here gets :func:`http_status`'s default.
HTTP_STATUS: Final[Mapping[str, int]] = {
    "INVALID_MESSAGE": 400,
    "VALIDATION_ERROR": 422,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "DELETE_BLOCKED": 409,
    "RATE_LIMITED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}


def http_status(code: str, retryable: bool) -> int:
    """The status of an error: :data:`HTTP_STATUS`'s, else 503 for a retryable error and 400
    for any other (a client error, until the table names it)."""
    return HTTP_STATUS.get(code) or (503 if retryable else 400)


def command_types() -> dict[str, type[Message]]:
    """The command message of every command served over HTTP, by command name, in the
    schema's order: every ``ClientMessage.command`` with a handler, but the WebSocket's own."""
    fields = envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
    return {
        field.name: message_factory.GetMessageClass(message_of(field))
        for field in fields
        if field.name in HANDLERS and field.name not in WEBSOCKET_ONLY
    }


def message_of(field: FieldDescriptor) -> Descriptor:
    """The message type of a message field (every command and every reply result is one)."""
    if field.message_type is None:
        raise TypeError(f"{field.full_name} is not a message field")
    return field.message_type


COMMANDS: Final = command_types()


class HttpError(Exception):
    """A refusal of the door itself, with its own status (404, 413, 415)."""

    def __init__(self, status: int, error: PmError) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


class Provisioned:
    """The (tenant, user) pairs whose user row already holds a token's claims, so that a
    request writes the row only when the claims change (or the tenant's database is a new
    one: a restore changes its epoch). Bounded, least recently used first out."""

    def __init__(self, cap: int = PROVISIONED_CAP) -> None:
        self._cap = cap
        self._seen: OrderedDict[tuple[str, str], tuple[object, ...]] = OrderedDict()

    def current(self, principal: Principal, epoch: str) -> bool:
        key = (principal.tenant_id, principal.user_id)
        seen = self._seen.get(key)
        if seen is None or seen != _claims(principal, epoch):
            return False
        self._seen.move_to_end(key)
        return True

    def remember(self, principal: Principal, epoch: str) -> None:
        self._seen[(principal.tenant_id, principal.user_id)] = _claims(principal, epoch)
        self._seen.move_to_end((principal.tenant_id, principal.user_id))
        while len(self._seen) > self._cap:
            self._seen.popitem(last=False)


def _claims(principal: Principal, epoch: str) -> tuple[object, ...]:
    return (principal.display_name, principal.email, principal.is_tenant_admin, epoch)


PROVISIONED = web.AppKey("provisioned", Provisioned)


def add_routes(app: web.Application) -> None:
    app[PROVISIONED] = Provisioned()
    app.router.add_post(PREFIX + "/{command}", rpc)


async def rpc(request: web.Request) -> web.StreamResponse:
    binary = _wants_protobuf(request)
    request_id = ""
    try:
        request_id = _request_id(request)
        response = await _serve(request, binary, request_id)
    except HttpError as exc:
        response = _error(request, exc.error, request_id, binary, exc.status)
    except Exception as exc:
        response = _error(request, exc, request_id, binary)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _serve(request: web.Request, binary: bool | None, request_id: str) -> web.Response:
    state = request.app[STATE]
    limits = request.app[LIMITS]
    if state.draining:
        raise UnavailableError("server is shutting down")
    if not origin_allowed(
        request.headers.get("Origin"), request.headers.get("Host"), limits.allowed_origins
    ):
        state.metrics.connections_refused.labels(REFUSED_ORIGIN).inc()
        raise ForbiddenError("requests from this origin are not allowed")
    if binary is None:
        raise HttpError(
            415, InvalidMessageError(f"send the command as {JSON} or {PROTOBUF} (Content-Type)")
        )
    name = request.match_info["command"]
    command_type = COMMANDS.get(name)
    if command_type is None:
        raise HttpError(404, _unknown(name))
    token = _bearer(request)
    is_key = looks_like(token, SecretKind.API_KEY)
    # An access token is verified once, here; an API key by the process that serves its tenant.
    principal = None if is_key else await state.verifier.verify_current(token)
    if (forwarded := await _forward_to_owner(request, state, token, principal)) is not None:
        return forwarded
    if principal is None:
        principal, _user = await verify_api_key(state, token)
    logs.bind(tenant=principal.tenant_id, user=principal.user_id, request_id=request_id)
    connection_limits = limits.open(principal.tenant_id, principal.user_id, _caller(principal))
    try:
        refusal = connection_limits.admit(lambda: request_id)
        if refusal is not None:
            raise RateLimitedError(refusal.retry_after, refusal.rate)
        command = _decode(await _body(request, state), command_type, binary)
        await _provision(request.app[PROVISIONED], state, principal)
        answers: list[Answer] = []
        try:
            await run_command(state, principal, name, command, request_id, answers.append)
        except Exception as exc:
            code = exc.code if isinstance(exc, PmError) else "INTERNAL"
            state.metrics.commands.labels(name, code).inc()
            raise
        state.metrics.commands.labels(name, "ok").inc()
    finally:
        connection_limits.close()
    return _reply(answers[0], request_id, binary)


def _caller(principal: Principal) -> str:
    """Whose rate bucket a request spends: its API key's, else its token subject's."""
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


def _unknown(name: str) -> PmError:
    if name in WEBSOCKET_ONLY:
        message = f"{name} is served over the WebSocket only (/v1/ws): {WEBSOCKET_ONLY[name]}"
    else:
        message = f"no command named {name[:64]!r}"
    return NotFoundError("command", name[:64], message)


def _wants_protobuf(request: web.Request) -> bool | None:
    """True for binary protobuf, False for JSON, None for anything else."""
    content_type = request.content_type.lower()
    if content_type == JSON:
        return False
    if content_type == PROTOBUF:
        return True
    return None


def _request_id(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return f"http-{uuid.uuid4().hex}"
    if IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise InvalidMessageError(
            f"Idempotency-Key must be 1-{MAX_REQUEST_ID} visible ASCII characters"
        )
    return key


def _bearer(request: web.Request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():  # schemes: any case (RFC 7235)
        raise UnauthenticatedError("missing bearer token (Authorization: Bearer <token>)")
    return credentials.strip()


async def _forward_to_owner(
    request: web.Request, state: ServerState, token: str, principal: Principal | None
) -> web.Response | None:
    """In a cluster, the owner's answer when another process owns the caller's tenant (the
    verified token's, or the API key's own); None when this one serves it (or there is no
    cluster)."""
    if state.cluster is None or state.relays is None:
        return None
    tenant_id = (
        principal.tenant_id
        if principal is not None
        else parse_secret(token, SecretKind.API_KEY).tenant_id
    )
    address = await owner_elsewhere(state.cluster, request, tenant_id)
    if address is None:
        return None
    return await state.relays.forward(request, address, await _body(request, state))


async def _provision(provisioned: Provisioned, state: ServerState, principal: Principal) -> None:
    """The user row as the token describes it, as the WebSocket writes it on connect.

    An API key's agent user is the database's already. A tenant without a database is
    created only by the development key; otherwise the request is refused (401).
    """
    if principal.api_key_id is not None:
        return
    try:
        async with state.databases.use(
            principal.tenant_id, create=state.settings.creates_tenants
        ) as db:
            if provisioned.current(principal, db.epoch):
                return
            await db.write(
                lambda uow: uow.users.upsert(
                    user_id=principal.user_id,
                    display_name=principal.display_name,
                    email=principal.email,
                    is_tenant_admin=principal.is_tenant_admin,
                )
            )
            provisioned.remember(principal, db.epoch)
    except TenantGoneError:
        raise UnauthenticatedError("unknown tenant") from None


async def _body(request: web.Request, state: ServerState) -> bytes:
    limit = state.settings.max_frame_bytes
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, InvalidMessageError(f"the body is above {limit} bytes"))
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise HttpError(413, InvalidMessageError(f"the body is above {limit} bytes")) from None


def _decode(body: bytes, command_type: type[Message], binary: bool) -> Message:
    """The command in ``body``; INVALID_MESSAGE naming what is wrong when it is not one."""
    command = command_type()
    name = command_type.DESCRIPTOR.name
    if binary:
        try:
            command.ParseFromString(body)
        except Exception as exc:  # DecodeError, or any other parser failure
            raise InvalidMessageError(f"the body is not a binary {name}") from exc
        return command
    if not body.strip():
        return command
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise InvalidMessageError("the body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise InvalidMessageError(f"the body must be a JSON object (a {name})")
    try:
        json_format.ParseDict(value, command)
    except json_format.ParseError as exc:
        raise InvalidMessageError(f"the body is not a {name}: {_first_line(exc)}") from exc
    except Exception as exc:  # RecursionError and the like: still a bad body, never a 500
        raise InvalidMessageError(f"the body is not a {name}") from exc
    return command


def _first_line(exc: Exception) -> str:
    # The parser's message names the field and what it expected; cut it short, it may
    # quote the value sent.
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _reply(answer: Answer, request_id: str, binary: bool) -> web.Response:
    reply = envelope_pb2.Reply.FromString(answer) if isinstance(answer, bytes) else answer
    reply.request_id = request_id
    return _message_response(reply, 200, binary)


def _error(
    request: web.Request,
    exc: BaseException,
    request_id: str,
    binary: bool | None,
    status: int | None = None,
) -> web.Response:
    error = error_message(exc, request_id, f"http {request.path}")
    code = envelope_pb2.ErrorCode.Name(error.code)
    response = _message_response(error, status or http_status(code, error.retryable), bool(binary))
    if error.retry_after_ms:
        response.headers["Retry-After"] = str(math.ceil(error.retry_after_ms / 1000))
    if code == "UNAUTHENTICATED":
        response.headers["WWW-Authenticate"] = 'Bearer realm="pm"'
    return response


def _message_response(message: Message, status: int, binary: bool) -> web.Response:
    if binary:
        return web.Response(body=message.SerializeToString(), status=status, content_type=PROTOBUF)
    text = json.dumps(json_format.MessageToDict(message), ensure_ascii=False)
    return web.Response(text=text, status=status, content_type=JSON)
