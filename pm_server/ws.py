"""``GET /v1/ws``: authenticate on upgrade, welcome, then read commands until close.

The token comes from ``Authorization: Bearer <token>`` (the scheme in any
case, RFC 7235), or for browsers from the ``Sec-WebSocket-Protocol`` header
(offer ``pm.v1`` and ``bearer.<token>``; the server selects ``pm.v1``) or the
``access_token`` query parameter. The bearer is a JWT, or an API key
(``pmk.``, :mod:`pm_server.api_keys`). The tenant and user come from the
verified bearer only; with an identity provider configured, a tenant without a
database is refused (401) and not created. A refused upgrade is an HTTP error
with a JSON body ``{"code": ..., "message": ...}`` and one INFO line with the
status and the reason; the token is never logged.

Each connection logs one line when it opens and one when it closes, with the
close code the server sent (or the client's, ``by=client``) and the reason.

Before the upgrade: the Origin allowlist (403), the token (401), the
connection caps and the tenant's storage (503). After it, every frame spends a
token of the connection's and the tenant's rate buckets (RATE_LIMITED when
either is empty; 1008 for a client that keeps sending anyway), repeated fields
are bounded, each handler has a deadline (UNAVAILABLE), and the connection is
closed with 4001 when its token expires, unless the client presented a fresh
one in-band (``reauthenticate``, :mod:`pm_server.expiry`). See
:mod:`pm_server.limits`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Final

from aiohttp import WebSocketError, WSMsgType, web

from pm_auth.secrets import SecretKind, looks_like, parse_secret
from pm_auth.tokens import Principal
from pm_core.errors import (
    InvalidMessageError,
    PmError,
    RateLimitedError,
    TenantGoneError,
    TooManyConnectionsError,
    UnauthenticatedError,
    UnavailableError,
)
from pm_core.models import User
from pm_proto import entities as pb_entities
from pm_proto.frames import decode_client, encode, reply_frame, request_id_of
from pm_proto.v1 import envelope_pb2
from pm_server import __version__, logs
from pm_server.api_keys import verify_api_key
from pm_server.commands import run_command
from pm_server.connection import (
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_TENANT_DELETED,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_TOO_BIG,
    Connection,
)
from pm_server.context import Answer
from pm_server.errors import error_message
from pm_server.expiry import TokenExpiry
from pm_server.limits import (
    LIMITS,
    REFUSED_ORIGIN,
    ConnectionLimits,
    ServerLimits,
    origin_allowed,
)
from pm_server.relay import owner_elsewhere
from pm_server.session import CLOSE_SLOW_CONSUMER
from pm_server.state import STATE, ServerState

log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
SUBPROTOCOL: Final = "pm.v1"
_BEARER_PROTOCOL_PREFIX: Final = "bearer."
MAX_REQUEST_ID: Final = 128
TEXT_FRAMES_REFUSED: Final = "text frames are not accepted; send binary protobuf frames"


def _token_of(request: web.Request) -> str | None:
    """The bearer token, from the header, a subprotocol or the query string."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":  # auth schemes are case-insensitive (RFC 7235)
        return credentials.strip()
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = offered.strip()
        if protocol.startswith(_BEARER_PROTOCOL_PREFIX):
            return protocol[len(_BEARER_PROTOCOL_PREFIX) :]
    return request.query.get("access_token")


def _refuse(
    request: web.Request, status: int, code: str, message: str, *, retryable: bool = True
) -> web.Response:
    """The refusal of an upgrade, logged with its reason (never the request's contents)."""
    log.info("refused upgrade from %s: %d %s %s", request.remote, status, code, message)
    body: dict[str, object] = {"code": code, "message": message}
    if not retryable:  # the same request will fail the same way until an operator acts
        body["retryable"] = False
    response = web.json_response(body, status=status)
    # The next attempt comes on a fresh connection, which meets the request-head guard
    # (pm_server.listener) again, rather than on this kept-alive one.
    response.force_close()
    return response


async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    limits = request.app[LIMITS]
    if state.draining:
        state.metrics.connections_refused.labels("draining").inc()
        return _refuse(request, 503, "UNAVAILABLE", "server is shutting down")
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.headers.get("Host"), limits.allowed_origins):
        state.metrics.connections_refused.labels(REFUSED_ORIGIN).inc()
        return _refuse(request, 403, "FORBIDDEN", "connections from this origin are not allowed")
    token = _token_of(request)
    if not token:
        state.metrics.connections_refused.labels("unauthenticated").inc()
        return _refuse(request, 401, "UNAUTHENTICATED", "missing bearer token")
    key_user: User | None = None
    try:
        if looks_like(token, SecretKind.API_KEY):
            tenant_id = parse_secret(token, SecretKind.API_KEY).tenant_id
            if (relayed := await _relay_to_owner(request, state, tenant_id, token)) is not None:
                return relayed
            principal, key_user = await verify_api_key(state, token)
        else:
            principal = await state.verifier.verify_current(token)
            tenant_id = principal.tenant_id
            if (relayed := await _relay_to_owner(request, state, tenant_id, token)) is not None:
                return relayed
    except UnauthenticatedError as exc:
        state.metrics.connections_refused.labels("unauthenticated").inc()
        return _refuse(request, 401, exc.code, exc.message)
    except UnavailableError as exc:  # an API key's tenant busy, storage closing
        state.metrics.connections_refused.labels("unavailable").inc()
        return _refuse(request, 503, exc.code, exc.message)
    logs.bind(tenant=principal.tenant_id, user=principal.user_id)
    try:
        connection_limits = limits.open(principal.tenant_id, principal.user_id)
    except TooManyConnectionsError as exc:
        state.metrics.connections_refused.labels(exc.reason).inc()
        return _refuse(request, 503, "UNAVAILABLE", exc.message)
    try:
        return await _accept(request, state, limits, connection_limits, principal, key_user)
    finally:
        connection_limits.close()


async def _relay_to_owner(
    request: web.Request, state: ServerState, tenant_id: str, token: str
) -> web.StreamResponse | None:
    """In a cluster, the relayed connection when another process owns the tenant; None
    when this one serves it (or there is no cluster)."""
    if state.cluster is None or state.relays is None:
        return None
    address = await owner_elsewhere(state.cluster, request, tenant_id)
    if address is None:
        return None
    return await state.relays.relay(request, address, token, (SUBPROTOCOL,))


async def _accept(
    request: web.Request,
    state: ServerState,
    limits: ServerLimits,
    connection_limits: ConnectionLimits,
    principal: Principal,
    key_user: User | None,
) -> web.StreamResponse:
    try:
        # An API key's agent user is the database's (read with the key); a token's is
        # written from its claims.
        user = key_user or await _provision(state, principal)
    except TenantGoneError:
        state.metrics.connections_refused.labels("unauthenticated").inc()
        return _refuse(request, 401, "UNAUTHENTICATED", "unknown tenant")
    except UnavailableError as exc:  # tenant busy or damaged, storage closing, schema too new
        state.metrics.connections_refused.labels("unavailable").inc()
        return _refuse(request, 503, exc.code, exc.message, retryable=exc.retryable)
    if state.draining:  # began while the user row was written
        state.metrics.connections_refused.labels("draining").inc()
        return _refuse(request, 503, "UNAVAILABLE", "server is shutting down")
    ws = web.WebSocketResponse(
        heartbeat=state.settings.heartbeat_seconds,
        max_msg_size=state.settings.max_frame_bytes,
        # Offered or not, pm.v1 is the one protocol the server selects: with no protocol
        # to select, aiohttp would log the client's offer, which may hold a token.
        protocols=(SUBPROTOCOL,),
        # No permessage-deflate, even when the client (every browser) offers it: an
        # event's frame is built once and sent as is to every subscriber, where
        # deflate would compress it again per connection and keep a zlib context
        # (hundreds of KiB) per socket.
        compress=False,
    )
    transport = request.transport
    await ws.prepare(request)
    connection_id = state.new_connection_id()
    logs.bind(conn=connection_id)
    connection = Connection(
        ws,
        principal,
        connection_id,
        max_queued_events=state.settings.max_queued_events,
        max_queued_event_bytes=state.settings.max_queued_event_bytes,
        max_subscriptions=state.settings.max_subscriptions_per_connection,
        transport=transport,
        flusher=state.flusher,
    )
    state.connections.add(connection)
    state.metrics.connections.inc()
    log.info("%s connected from %s", connection.log_context(), request.remote)
    expiry = TokenExpiry(
        connection, state.verifier, lambda: _expired(state, limits, connection), state.now
    )
    connection.expiry = expiry
    expiry.start()
    try:
        await _serve(state, limits, connection, connection_limits, user)
    finally:
        expiry.cancel()
        await _cleanup(state, connection)
    return ws


async def _provision(state: ServerState, principal: Principal) -> User:
    """Create or update the user row from the token's claims (on every connect).

    A tenant without a database is created only when the settings allow it (the
    development key alone); otherwise TenantGoneError, and nothing is written.
    """
    create = state.settings.creates_tenants
    async with state.databases.use(principal.tenant_id, create=create) as db:
        return await db.write(
            lambda uow: uow.users.upsert(
                user_id=principal.user_id,
                display_name=principal.display_name,
                email=principal.email,
                is_tenant_admin=principal.is_tenant_admin,
            )
        )


def _expired(state: ServerState, limits: ServerLimits, connection: Connection) -> None:
    """Close the connection with 4001: its token's ``exp`` passed with no fresh one presented."""
    if connection.closing:
        return
    log.info("%s token expired: closing", connection.log_context())
    limits.limit_closes.labels("token_expired").inc()
    connection.begin_close(
        CLOSE_TOKEN_EXPIRED,
        "token expired: reconnect with a fresh token, or send reauthenticate before it expires",
        state.settings.shutdown_grace_seconds,
    )


async def _serve(
    state: ServerState,
    limits: ServerLimits,
    connection: Connection,
    connection_limits: ConnectionLimits,
    user: User,
) -> None:
    principal = connection.principal
    settings = state.settings
    welcome = envelope_pb2.Welcome(
        protocol_version=PROTOCOL_VERSION,
        server_version=__version__,
        user=pb_entities.user_to_pb(user),
        tenant_id=principal.tenant_id,
        connection_id=connection.id,
        heartbeat_interval_ms=int(settings.heartbeat_seconds * 1000),
        max_frame_bytes=settings.max_frame_bytes,
    )
    connection.send(encode(envelope_pb2.ServerMessage(welcome=welcome)))
    connection.start_writer()
    inflight = asyncio.Semaphore(settings.max_inflight_per_connection)
    tasks = connection.tasks
    ws = connection.ws
    async for message in ws:
        if message.type in (WSMsgType.BINARY, WSMsgType.TEXT):
            binary = message.type == WSMsgType.BINARY
            if connection.closing:
                if connection.close_code != CLOSE_POLICY:  # a flooder gets no more answers
                    request_id = request_id_of(message.data) if binary else ""
                    _send_error(connection, UnavailableError("connection is closing"), request_id)
                continue
            data = message.data
            # Read only for a refused frame, and then once.
            refused_id = functools.cache(lambda: request_id_of(data) if binary else "")  # noqa: B023
            refusal = connection_limits.admit(refused_id)
            if refusal is not None:
                error = RateLimitedError(refusal.retry_after, refusal.rate)
                _send_error(connection, error, refused_id())
                if refusal.counted and connection_limits.flooding():
                    _close_flooder(state, limits, connection)
                continue
            if not binary:
                _send_error(connection, InvalidMessageError(TEXT_FRAMES_REFUSED), "")
                continue
            await inflight.acquire()
            task = asyncio.get_running_loop().create_task(
                _handle(state, connection, message.data, inflight)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif message.type == WSMsgType.ERROR:  # aiohttp has closed the socket already
            error = message.data
            if isinstance(error, WebSocketError):
                code = error.code
                reason = (
                    f"frame above {settings.max_frame_bytes} bytes"
                    if code == CLOSE_TOO_BIG
                    else "protocol error"
                )
            else:  # a peer that stopped answering pings, a broken socket
                code, reason = CLOSE_INTERNAL, type(error).__name__
            log.info("%s %s: closing with %d", connection.log_context(), reason, code)
            connection.note_close(code, reason)
            break
    if tasks:
        await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
        for task in list(tasks):  # never leave a handler (and its tenant lease) behind
            task.cancel()


def _close_flooder(state: ServerState, limits: ServerLimits, connection: Connection) -> None:
    log.warning("%s kept sending after RATE_LIMITED: closing", connection.log_context())
    limits.limit_closes.labels("flood").inc()
    connection.begin_close(
        CLOSE_POLICY, "rate limit exceeded: slow down", state.settings.shutdown_grace_seconds
    )


async def _handle(
    state: ServerState, connection: Connection, data: bytes, inflight: asyncio.Semaphore
) -> None:
    started = time.perf_counter()
    name = "invalid"
    request_id = ""
    try:
        try:
            message = decode_client(data)
        except InvalidMessageError:
            request_id = request_id_of(data)
            raise
        request_id = message.request_id
        _check_envelope(message)
        logs.bind(request_id=request_id)
        name = message.WhichOneof("command") or "invalid"

        def answer(reply: Answer) -> None:
            if isinstance(reply, bytes):  # a mutation's reply, encoded once when it committed
                connection.send(reply_frame(request_id, reply))
            else:
                reply.request_id = request_id
                connection.send(encode(envelope_pb2.ServerMessage(reply=reply)))
            state.metrics.commands.labels(name, "ok").inc()

        await run_command(
            state,
            connection.principal,
            name,
            getattr(message, name),
            request_id,
            answer,
            connection=connection,
        )
    except Exception as exc:
        code = exc.code if isinstance(exc, PmError) else "INTERNAL"
        state.metrics.commands.labels(name, code).inc()
        _send_error(connection, exc, request_id)
        if isinstance(exc, TenantGoneError):
            connection.begin_close(CLOSE_TENANT_DELETED, "tenant deleted")
    finally:
        state.metrics.command_seconds.labels(name).observe(time.perf_counter() - started)
        inflight.release()


def _check_envelope(message: envelope_pb2.ClientMessage) -> None:
    if not message.request_id or len(message.request_id) > MAX_REQUEST_ID:
        raise InvalidMessageError(f"request_id must be 1-{MAX_REQUEST_ID} characters")
    if message.protocol_version not in (0, PROTOCOL_VERSION):
        raise InvalidMessageError(
            f"protocol version {message.protocol_version} is not supported; "
            f"this server speaks {PROTOCOL_VERSION}"
        )


def _send_error(connection: Connection, exc: BaseException, request_id: str) -> None:
    # An invalid over-long request id is echoed cut to the longest valid one, so a
    # client can still match the error (and a 1 MB id is not sent back whole).
    error = error_message(exc, request_id[:MAX_REQUEST_ID], connection.log_context())
    connection.send(encode(envelope_pb2.ServerMessage(error=error)))


async def _cleanup(state: ServerState, connection: Connection) -> None:
    tenant_id = connection.principal.tenant_id
    state.hub.unsubscribe_all(tenant_id, connection)
    state.hub.leave_all(tenant_id, connection, state.now())
    await connection.finish()
    state.connections.discard(connection)
    state.metrics.connections.dec()
    if connection.close_code == CLOSE_SLOW_CONSUMER:
        state.metrics.slow_consumer_closes.inc()
    code: int | None
    if connection.sent_close is not None:
        (code, reason), by = connection.sent_close, "server"
    else:
        code, reason, by = connection.ws.close_code, "", "client"
    log.info(
        "%s disconnected code=%s by=%s reason=%r peak_queued_bytes=%d",
        connection.log_context(),
        code,
        by,
        reason,
        connection.session.peak_queued_bytes,
    )
