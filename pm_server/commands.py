"""Running one command: the one way from a door to a handler.

The WebSocket (:mod:`pm_server.ws`) and HTTP (:mod:`pm_server.rpc`) doors
decode a command, find who sent it and admit it past the rate limits; from
there both go through :func:`run_command`: the dispatch table, the bounds on
repeated fields, the tenant held open, the handler under its deadline (its
authorisation, rules and idempotency are behind it), then the answer handed
back to the door while the tenant is still held, then the work deferred after
it (a subscription's replay). A door adds no rule of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from google.protobuf.message import Message

from pm_auth.tokens import Principal
from pm_core.errors import InvalidMessageError, UnavailableError
from pm_server.connection import Connection
from pm_server.context import Answer, Context
from pm_server.dispatch import HANDLERS, Handler
from pm_server.limits import check_list_sizes
from pm_server.settings import Settings
from pm_server.state import ServerState


async def run_command(
    state: ServerState,
    principal: Principal,
    name: str,
    command: Message,
    request_id: str,
    answer: Callable[[Answer], None],
    *,
    connection: Connection | None = None,
) -> None:
    """Run the command ``name`` and hand its reply to ``answer``; a failure raises (the
    door turns it into an error with :func:`pm_server.errors.error_message`).

    ``connection`` is the WebSocket the command came on (None over HTTP).
    """
    handler = HANDLERS.get(name)
    if handler is None:
        raise InvalidMessageError(f"unknown command {name}")
    check_list_sizes(command, state.settings.max_list_items)
    async with state.databases.use(principal.tenant_id, create=False) as db:
        context = Context(
            principal,
            db,
            state.hub,
            connection,
            request_id,
            open_connections=state.connections,
            settings=state.settings,
            webhooks=state.webhooks,
        )
        answer(await _run_handler(handler, context, command, state.settings))
        for job in context.deferred:
            await job()


async def _run_handler(
    handler: Handler, context: Context, command: Message, settings: Settings
) -> Answer:
    """The handler's reply, or UNAVAILABLE (retryable) when it takes too long.

    A mutation cut short may still commit; its retry with the same request_id
    returns the stored reply instead of writing again.
    """
    timeout = settings.handler_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            return await handler(context, command)
    except TimeoutError as exc:
        raise UnavailableError(
            f"the command took longer than {timeout:g}s; retry with the same request_id"
        ) from exc
