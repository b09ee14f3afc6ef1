"""``GET /v1/ws``: authenticate on upgrade, welcome, then read commands until close.

The token comes from ``Authorization: Bearer <token>``, or for browsers from
the ``Sec-WebSocket-Protocol`` header (offer ``pm.v1`` and ``bearer.<token>``;
the server selects ``pm.v1``) or the ``access_token`` query parameter. The
tenant and user come from the verified token only. A refused upgrade is an
HTTP error with a JSON body ``{"code": ..., "message": ...}``; the token is
never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from aiohttp import WSMsgType, web

from pm_core.errors import (
    InvalidMessageError,
    PmError,
    UnauthenticatedError,
    UnavailableError,
)
from pm_proto import entities as pb_entities
from pm_proto.frames import decode_client, encode, request_id_of
from pm_proto.v1 import envelope_pb2
from pm_server import __version__
from pm_server.connection import CLOSE_SLOW_CONSUMER, CLOSE_TOO_BIG, Connection
from pm_server.context import Context
from pm_server.dispatch import HANDLERS
from pm_server.errors import error_message
from pm_server.state import STATE, ServerState

log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
SUBPROTOCOL: Final = "pm.v1"
_BEARER_PROTOCOL_PREFIX: Final = "bearer."
MAX_REQUEST_ID: Final = 128
TEXT_FRAMES_REFUSED: Final = "text frames are not accepted; send binary protobuf frames"


def _token_of(request: web.Request) -> tuple[str | None, bool]:
    """The bearer token and whether it came as a subprotocol."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip(), False
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = offered.strip()
        if protocol.startswith(_BEARER_PROTOCOL_PREFIX):
            return protocol[len(_BEARER_PROTOCOL_PREFIX) :], True
    token = request.query.get("access_token")
    return token, False


def _refuse(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if state.draining:
        state.metrics.connections_refused.labels("draining").inc()
        return _refuse(503, "UNAVAILABLE", "server is shutting down")
    token, as_subprotocol = _token_of(request)
    if not token:
        state.metrics.connections_refused.labels("unauthenticated").inc()
        return _refuse(401, "UNAUTHENTICATED", "missing bearer token")
    try:
        principal = state.verifier.verify(token)
    except UnauthenticatedError as exc:
        state.metrics.connections_refused.labels("unauthenticated").inc()
        return _refuse(401, exc.code, exc.message)

    ws = web.WebSocketResponse(
        heartbeat=state.settings.heartbeat_seconds,
        max_msg_size=state.settings.max_frame_bytes,
        protocols=(SUBPROTOCOL,) if as_subprotocol else (),
    )
    transport = request.transport
    await ws.prepare(request)
    connection = Connection(
        ws,
        principal,
        state.new_connection_id(),
        max_queued_events=state.settings.max_queued_events,
        transport=transport,
    )
    state.connections.add(connection)
    state.metrics.connections.inc()
    log.info("%s connected", connection.log_context())
    try:
        await _serve(state, connection)
    finally:
        await _cleanup(state, connection)
    return ws


async def _serve(state: ServerState, connection: Connection) -> None:
    principal = connection.principal
    async with state.databases.use(principal.tenant_id) as db:
        user = await db.write(
            lambda uow: uow.users.upsert(
                user_id=principal.user_id,
                display_name=principal.display_name,
                email=principal.email,
                is_tenant_admin=principal.is_tenant_admin,
            )
        )
    welcome = envelope_pb2.Welcome(
        protocol_version=PROTOCOL_VERSION,
        server_version=__version__,
        user=pb_entities.user_to_pb(user),
        tenant_id=principal.tenant_id,
        connection_id=connection.id,
        heartbeat_interval_ms=int(state.settings.heartbeat_seconds * 1000),
        max_frame_bytes=state.settings.max_frame_bytes,
    )
    connection.send(encode(envelope_pb2.ServerMessage(welcome=welcome)))
    connection.start_writer()
    inflight = asyncio.Semaphore(state.settings.max_inflight_per_connection)
    tasks = connection.tasks
    ws = connection.ws
    async for message in ws:
        if message.type == WSMsgType.BINARY:
            if connection.closing:
                _send_error(connection, UnavailableError("connection is closing"), "")
                continue
            await inflight.acquire()
            task = asyncio.get_running_loop().create_task(
                _handle(state, connection, message.data, inflight)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif message.type == WSMsgType.TEXT:
            _send_error(connection, InvalidMessageError(TEXT_FRAMES_REFUSED), "")
        elif message.type == WSMsgType.ERROR:
            if ws.close_code == CLOSE_TOO_BIG:
                log.info("%s frame above the size limit", connection.log_context())
            break
    if tasks:
        await asyncio.wait(tasks, timeout=state.settings.shutdown_grace_seconds)


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
        name = message.WhichOneof("command") or "invalid"
        handler = HANDLERS.get(name)
        if handler is None:
            raise InvalidMessageError(f"unknown command {name}")
        principal = connection.principal
        async with state.databases.use(principal.tenant_id) as db:
            context = Context(principal, db, state.hub, connection, request_id)
            reply = await handler(context, getattr(message, name))
            reply.request_id = request_id
            connection.send(encode(envelope_pb2.ServerMessage(reply=reply)))
            state.metrics.commands.labels(name, "ok").inc()
            for job in context.deferred:
                await job()
    except Exception as exc:
        code = exc.code if isinstance(exc, PmError) else "INTERNAL"
        state.metrics.commands.labels(name, code).inc()
        _send_error(connection, exc, request_id)
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
    error = error_message(exc, request_id, connection.log_context())
    connection.send(encode(envelope_pb2.ServerMessage(error=error)))


async def _cleanup(state: ServerState, connection: Connection) -> None:
    tenant_id = connection.principal.tenant_id
    for project_id in list(connection.subscriptions):
        state.hub.unsubscribe(tenant_id, project_id, connection)
    connection.subscriptions.clear()
    for project_id in list(connection.present_in):
        state.hub.leave(tenant_id, project_id, connection.principal.user_id, state.now())
    connection.present_in.clear()
    await connection.finish()
    state.connections.discard(connection)
    state.metrics.connections.dec()
    if connection.close_code == CLOSE_SLOW_CONSUMER:
        state.metrics.slow_consumer_closes.inc()
    log.info("%s disconnected code=%s", connection.log_context(), connection.ws.close_code)
