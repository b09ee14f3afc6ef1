"""The async pm client: one WebSocket, requests correlated by id, events, reconnects.

::

    async with PmClient("ws://127.0.0.1:8700/v1/ws", token) as pm:
        project = (await pm.create_project(key="PM", name="Board")).project
        await pm.subscribe([project.id])
        async for event in pm.events():
            ...

One reader task per connection reads every frame: replies and errors resolve
the request waiting on their ``request_id``; events go through
:class:`~pm_client.events.Positions` (resume positions, duplicates) into one
queue that :meth:`PmClient.events` iterates.

When the connection drops (not after :meth:`PmClient.close`), the client
reconnects with exponential backoff and jitter (the backoff goes back to its
start only after a connection that lived :data:`STABLE_SECONDS`: one that
dies at once never makes the client reconnect in a tight loop), subscribes every subscription
again from the last ``seq`` it received (a refused position surfaces as
:class:`~pm_client.errors.MustRefetch` in the event stream), rejoins presence,
and only then lets requests through again. Reads and mutations in flight at the
drop are sent again with the same request id, so a mutation is applied once
(the server answers a repeated id with the reply it stored). Commands whose
effect belongs to the connection (subscribe, unsubscribe, presence) raise
:class:`~pm_client.errors.ConnectionLost` instead.

Some closes are final for a connection. 4001 (the token expired) is final
unless the client has a ``token_provider``: an async callable that returns a
fresh token (refreshed with a sign-in refresh token, or an API key, which
never expires) or None to stop; the client then reconnects with that token.
Without one, or when it returns None, requests and the event stream raise
:class:`~pm_client.errors.ConnectionLost` with ``close_code`` 4001. 1008
(flooding) and 4003 (API key revoked) are always final. A refused upgrade
(401) is asked of the provider once too. Errors the server marks as
retryable (``UNAVAILABLE``, ``RATE_LIMITED``) are retried with the same id
after a pause while the request's time allows; after a ``RATE_LIMITED`` the
client paces all its sends below the rate the server stated
(:mod:`pm_client.pacing`), so it is refused seldom and never closed for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Final

import aiohttp
from google.protobuf.message import DecodeError, Message

from pm_client.commands import COMMANDS, Command
from pm_client.errors import (
    ClientError,
    ConnectError,
    ConnectionLost,
    MustRefetch,
    RequestTimeout,
    ServerError,
)
from pm_client.events import (
    END,
    INBOX_SCOPE,
    TENANT_SCOPE,
    EventStream,
    Failed,
    Item,
    Positions,
    scopes_of,
)
from pm_client.handshake import Connector
from pm_client.methods import CommandMethods
from pm_client.pacing import Pacer
from pm_proto.v1 import commands_pb2, envelope_pb2, events_pb2

log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
#: The token expired: reconnecting needs a fresh one (from the token provider).
CLOSE_TOKEN_EXPIRED: Final = 4001
#: The API key the connection was opened with was revoked.
CLOSE_KEY_REVOKED: Final = 4003
#: Close codes after which reconnecting cannot help (1008: policy violation).
FINAL_CLOSE_CODES: Final = frozenset({1008, CLOSE_KEY_REVOKED})
#: A connection that lived this long resets the reconnect backoff to its start.
STABLE_SECONDS: Final = 10.0
_FIRST_BACKOFF: Final = 0.05
#: Frames after which a connection reads nothing more.
_ENDS: Final = frozenset(
    {aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
)

#: Returns a fresh token, or None when there is none (the client then stops).
TokenProvider = Callable[[], Awaitable[str | None]]


class _Dropped(Exception):
    """Internal: the connection a request was sent on is gone."""


class PmClient(CommandMethods):
    """A connection to a pm server for one token (one user in one tenant).

    ``url`` is the WebSocket URL (``ws://host:port/v1/ws``; ``http://host:port``
    works too). Every request waits at most ``request_timeout`` seconds in
    all, reconnects included. With ``reconnect=False`` a dropped connection is
    final. ``heartbeat`` is the client's own ping interval (None: off).
    ``token_provider`` is asked for a fresh token when the server refuses or
    closes the connection for an expired one (see the module docstring).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        request_timeout: float = 10.0,
        reconnect: bool = True,
        max_backoff: float = 5.0,
        connect_timeout: float = 10.0,
        heartbeat: float | None = 30.0,
        token_provider: TokenProvider | None = None,
    ) -> None:
        self._connector = Connector(url, token, timeout=connect_timeout, heartbeat=heartbeat)
        self.url = self._connector.url
        self.request_timeout = request_timeout
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        #: The server's welcome on the current (or last) connection.
        self.welcome = envelope_pb2.Welcome()
        #: How many times the connection was re-established.
        self.reconnects = 0
        self._positions = Positions()
        self._events: asyncio.Queue[Item] = asyncio.Queue()
        self._present_in: set[str] = set()
        self._pending: dict[str, asyncio.Future[envelope_pb2.ServerMessage]] = {}
        self._started = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        #: Set while requests may be sent, or once they never can again.
        self._usable = asyncio.Event()
        self._closed = False
        self._failure: ClientError | None = None
        self._pacer = Pacer()
        #: Where requests sent without a ``request_id`` take theirs (None: a random one
        #: each). The CLI's ``--request-id`` sets it, so that running a command again
        #: sends its writes under the same ids and the server applies them once.
        self.request_ids: Iterator[str] | None = None
        self._token_provider = token_provider
        #: Reconnect attempts since the last connection that lived STABLE_SECONDS.
        self._attempt = 0
        self._opened_at = 0.0
        #: The token must be replaced before the next connection (it expired).
        self._token_expired = False

    # -- state -------------------------------------------------------------------

    @property
    def epoch(self) -> str:
        """The tenant's epoch, from the last subscribe reply ("" before any)."""
        return self._positions.epoch

    @property
    def last_seq(self) -> int:
        """The highest ``seq`` received or subscribed from, in :attr:`epoch`."""
        return self._positions.last_seq

    @property
    def subscribed(self) -> list[str]:
        """The project ids subscribed to (kept across reconnects)."""
        return [
            scope
            for scope in self._positions.project_ids
            if scope not in (TENANT_SCOPE, INBOX_SCOPE)
        ]

    @property
    def tenant_subscribed(self) -> bool:
        """Whether the tenant scope is subscribed to (kept across reconnects)."""
        return TENANT_SCOPE in self._positions.project_ids

    @property
    def notifications_subscribed(self) -> bool:
        """Whether the caller's inbox is subscribed to (kept across reconnects)."""
        return INBOX_SCOPE in self._positions.project_ids

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._usable.is_set() and not self._closed

    # -- connect and close -------------------------------------------------------

    async def connect(self) -> envelope_pb2.Welcome:
        """Open the connection and return the server's welcome; ConnectError when refused."""
        if self._closed:
            raise ConnectionLost("the client is closed")
        if self._failure is not None:
            raise self._failure  # it gave up for good: make a new client
        reconnecting = self._reconnector is not None and not self._reconnector.done()
        if self._ws is not None or reconnecting:
            await self._ready()
            return self.welcome
        try:
            try:
                await self._open()
            except ConnectError as exc:  # an expired token: once with a fresh one, if any
                if exc.status != 401 or not await self._renew_token():
                    raise
                await self._open()
        except BaseException:
            await self._connector.close()
            raise
        self._started = True
        self._usable.set()
        return self.welcome

    async def close(self) -> None:
        """Close the connection; requests waiting get ConnectionLost, the event stream ends."""
        if self._closed:
            return
        self._closed = True
        self._usable.set()  # waiters wake up and see the client is closed
        if self._reconnector is not None:
            self._reconnector.cancel()
            await asyncio.wait({self._reconnector})
        ws, self._ws = self._ws, None
        self._drop_pending()
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=5)
        await self._connector.close()
        self._events.put_nowait(END)

    async def __aenter__(self) -> PmClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _open(self) -> None:
        """Connect, read the welcome, start the reader. ConnectError on failure."""
        ws, welcome = await self._connector.open()
        self._ws = ws
        self.welcome = welcome
        self._opened_at = asyncio.get_running_loop().time()
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))
        log.info(
            "connected conn=%s tenant=%s user=%s",
            welcome.connection_id,
            welcome.tenant_id,
            welcome.user.id,
        )

    # -- requests ----------------------------------------------------------------

    async def request(
        self,
        command: str,
        message: Message,
        *,
        request_id: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (raises RequestTimeout with the id)
    ) -> envelope_pb2.Reply:
        """Send ``message`` as ``command`` (a ``ClientMessage.command`` field name).

        Returns the Reply; raises ServerError for an Error reply, RequestTimeout
        when no answer came within ``timeout`` (default ``request_timeout``),
        ConnectionLost when the connection is gone for good. Pass the
        ``request_id`` of a timed-out mutation to retry it safely.
        """
        spec = COMMANDS.get(command)
        if spec is None:
            raise ValueError(f"unknown command {command!r}")
        if not isinstance(message, spec.message):
            raise TypeError(
                f"{command} takes {spec.message.__name__}, not {type(message).__name__}"
            )
        if not request_id:
            request_id = next(self.request_ids) if self.request_ids else uuid.uuid4().hex
        if request_id in self._pending:
            raise ValueError(f"request {request_id} is already in flight")
        envelope = envelope_pb2.ClientMessage(
            request_id=request_id, protocol_version=PROTOCOL_VERSION
        )
        getattr(envelope, command).CopyFrom(message)
        frame = envelope.SerializeToString()
        limit = self.welcome.max_frame_bytes
        if limit and len(frame) > limit:
            raise ClientError(f"{command} is {len(frame)} bytes; the server takes {limit} at most")
        seconds = self.request_timeout if timeout is None else timeout
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            async with asyncio.timeout_at(deadline):
                answer = await self._exchange(command, spec, message, request_id, frame, deadline)
        except TimeoutError:
            raise RequestTimeout(command, request_id, seconds) from None
        if answer.WhichOneof("kind") == "error":
            raise ServerError(answer.error, command)
        reply = answer.reply
        if reply.WhichOneof("result") != spec.reply:
            raise ClientError(f"{command} was answered with {reply.WhichOneof('result')}")
        return reply

    async def _exchange(
        self,
        command: str,
        spec: Command,
        message: Message,
        request_id: str,
        frame: bytes,
        deadline: float,
    ) -> envelope_pb2.ServerMessage:
        """Send until answered: again after a reconnect, and after a retryable error."""
        project_ids = _projects_of(message)
        attempt = 0
        while True:
            ws = await self._ready()
            wait = self._pacer.delay(asyncio.get_running_loop().time())
            if wait > 0:
                await asyncio.sleep(wait)
                ws = await self._ready()
            if command == "subscribe":
                self._positions.begin(project_ids)
            try:
                answer = await self._roundtrip(ws, request_id, frame)
            except _Dropped:
                if command == "subscribe":
                    self._queue_events(self._positions.end(project_ids, None))
                if spec.session:
                    raise ConnectionLost(
                        f"the connection dropped before {command} was answered; "
                        "subscriptions and presence in place before are restored"
                    ) from None
                continue  # sent again, with the same id, once reconnected
            except BaseException:
                if command == "subscribe":
                    self._queue_events(self._positions.end(project_ids, None))
                raise
            if answer.WhichOneof("kind") == "error":
                if command == "subscribe":
                    self._queue_events(self._positions.end(project_ids, None))
                pause = self._retry_pause(answer.error, attempt)
                now = asyncio.get_running_loop().time()
                if answer.error.code == envelope_pb2.RATE_LIMITED:
                    self._pacer.refused(now, pause or 0.0, answer.error.rate_per_second)
                if pause is None or now + pause >= deadline:
                    return answer
                attempt += 1
                await asyncio.sleep(pause)
                continue
            self._after_reply(command, project_ids, answer.reply)
            return answer

    def _retry_pause(self, error: envelope_pb2.Error, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None when the error is final."""
        if not error.retryable:
            return None
        if error.retry_after_ms:
            return float(error.retry_after_ms) / 1000
        return self._backoff(attempt)

    def _after_reply(self, command: str, project_ids: list[str], reply: envelope_pb2.Reply) -> None:
        """Keep what a session command changed, to restore it after a reconnect."""
        if command == "subscribe":
            self._queue_events(self._positions.end(project_ids, reply.subscribed))
        elif command == "unsubscribe":
            self._positions.unsubscribed(scopes_of(reply.unsubscribed))
        elif command == "join_presence":
            self._present_in.update(project_ids)
        elif command == "leave_presence":
            self._present_in.difference_update(project_ids)

    async def _ready(self) -> aiohttp.ClientWebSocketResponse:
        """The connection to send on, once usable; ConnectionLost/ConnectError if never."""
        while True:
            if self._closed:
                raise ConnectionLost("the client is closed")
            if self._failure is not None:
                raise self._failure
            if not self._started:
                raise ConnectionLost("not connected: call connect() first")
            if self._ws is not None and self._usable.is_set():
                return self._ws
            await self._usable.wait()

    async def _roundtrip(
        self, ws: aiohttp.ClientWebSocketResponse, request_id: str, frame: bytes
    ) -> envelope_pb2.ServerMessage:
        """Send one frame on ``ws`` and wait for its answer; _Dropped if ``ws`` goes away."""
        if ws is not self._ws:
            raise _Dropped
        future: asyncio.Future[envelope_pb2.ServerMessage] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[request_id] = future
        try:
            # A send on a closing socket fails; the reader then fails the future.
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await ws.send_bytes(frame)
            return await future
        finally:
            if self._pending.get(request_id) is future:
                del self._pending[request_id]

    async def _call(self, command: str, message: Message) -> envelope_pb2.Reply:
        """A request on the current connection while it is being restored."""
        if self._ws is None:
            raise _Dropped
        envelope = envelope_pb2.ClientMessage(
            request_id=uuid.uuid4().hex, protocol_version=PROTOCOL_VERSION
        )
        getattr(envelope, command).CopyFrom(message)
        async with asyncio.timeout(self.request_timeout):
            answer = await self._roundtrip(
                self._ws, envelope.request_id, envelope.SerializeToString()
            )
        if answer.WhichOneof("kind") == "error":
            raise ServerError(answer.error, command)
        return answer.reply

    # -- subscriptions: the generated methods, with the short forms callers use -----

    async def subscribe(
        self,
        project_ids: Iterable[str] = (),
        *,
        resume: commands_pb2.ResumePosition | tuple[str, int] | None = None,
        tenant: bool = False,
        notifications: bool = False,
    ) -> commands_pb2.SubscribeReply:
        """Receive the events of these projects, from ``resume = (epoch, seq)`` or from now.

        Subscribe every project in one call to get one ordered stream. The
        reply's ``must_refetch`` says the position could not be honoured.
        ``tenant``: also the tenant-wide events (``llm_context`` rows without
        a project), whose ``project_id`` is empty. ``notifications``: the
        caller's inbox instead (subscribed on its own), a ``notification``
        event for each notification the caller gets.
        """
        if isinstance(resume, tuple):
            resume = commands_pb2.ResumePosition(epoch=resume[0], seq=resume[1])
        return await super().subscribe(
            project_ids=project_ids, resume=resume, tenant=tenant, notifications=notifications
        )

    async def unsubscribe(
        self, project_ids: Iterable[str] = (), *, tenant: bool = False, notifications: bool = False
    ) -> commands_pb2.UnsubscribeReply:
        return await super().unsubscribe(
            project_ids=project_ids, tenant=tenant, notifications=notifications
        )

    # -- events ------------------------------------------------------------------

    def events(self) -> EventStream:
        """The events of every subscribed project, in order, across reconnects.

        Raises MustRefetch when a resume position was not honoured (reload and
        keep iterating); ends when the client is closed.
        """
        return EventStream(self._events)

    def _queue_events(self, events: Iterable[events_pb2.Event]) -> None:
        for event in events:
            self._events.put_nowait(event)

    # -- the reader --------------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # The code of the server's close frame, kept from the frame itself: aiohttp turns
        # ws.close_code into 1006 when its close reply cannot be written any more.
        code: int | None = None
        try:
            while True:
                frame = await ws.receive()
                if frame.type == aiohttp.WSMsgType.BINARY:
                    self._on_frame(frame.data)
                elif frame.type == aiohttp.WSMsgType.CLOSE:
                    code = int(frame.data)
                    break
                elif frame.type in _ENDS:
                    break
        except Exception:
            log.exception("reader failed conn=%s", self.welcome.connection_id)
        finally:
            self._on_drop(ws, code)

    def _on_frame(self, data: bytes) -> None:
        try:
            message = envelope_pb2.ServerMessage.FromString(data)
        except DecodeError:
            log.warning("undecodable frame from the server ignored")
            return
        kind = message.WhichOneof("kind")
        if kind == "reply":
            self._resolve(message.reply.request_id, message)
        elif kind == "error":
            if not self._resolve(message.error.request_id, message):
                log.warning("server error for no request: %s", message.error.message)
        elif kind == "event":
            self._on_event(message.event)
        elif kind == "events":
            for event in message.events.events:
                self._on_event(event)

    def _resolve(self, request_id: str, message: envelope_pb2.ServerMessage) -> bool:
        future = self._pending.get(request_id)
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def _on_event(self, event: events_pb2.Event) -> None:
        if self._positions.accept(event):
            self._events.put_nowait(event)

    def _drop_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(_Dropped())

    def _on_drop(self, ws: aiohttp.ClientWebSocketResponse, code: int | None) -> None:
        """The reader of ``ws`` ended (``code``: of the server's close frame, if one came):
        fail what waits on it, reconnect unless that is over."""
        if ws is not self._ws:
            return  # closed by close(), or replaced already
        self._ws = None
        self._usable.clear()
        self._drop_pending()
        if self._closed:
            return
        if code is None:
            code = ws.close_code
        if asyncio.get_running_loop().time() - self._opened_at >= STABLE_SECONDS:
            self._attempt = 0  # it lived: the next drop is news, not the same failure again
        expired = code == CLOSE_TOKEN_EXPIRED
        if (
            not self.reconnect
            or code in FINAL_CLOSE_CODES
            or (expired and self._token_provider is None)
        ):
            self._fail(ConnectionLost(_closed_text(code), close_code=code))
            return
        self._token_expired = expired
        log.info("connection lost conn=%s code=%s: reconnecting", self.welcome.connection_id, code)
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.get_running_loop().create_task(self._reconnect())

    def _fail(self, error: ClientError) -> None:
        """Give up for good: requests and the event stream raise ``error`` from now on."""
        self._failure = error
        self._usable.set()
        self._events.put_nowait(Failed(error))

    # -- reconnecting ------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff capped at ``max_backoff``, with jitter (50-100%)."""
        delay: float = min(self.max_backoff, _FIRST_BACKOFF * 2.0 ** min(attempt, 30))
        return delay * random.uniform(0.5, 1.0)

    async def _reconnect(self) -> None:
        try:
            await self._reconnect_until_restored()
        except Exception as exc:  # a bug must not leave requests waiting forever
            log.exception("reconnecting failed")
            self._fail(ConnectionLost(f"reconnecting failed: {exc!r}"))

    async def _reconnect_until_restored(self) -> None:
        fresh = False  # the token in place came from the provider for this very attempt
        while not self._closed:
            await asyncio.sleep(self._backoff(self._attempt))
            self._attempt += 1
            if self._token_expired:
                if not await self._renew_token():
                    self._fail(
                        ConnectionLost(
                            _closed_text(CLOSE_TOKEN_EXPIRED), close_code=CLOSE_TOKEN_EXPIRED
                        )
                    )
                    return
                self._token_expired, fresh = False, True
            try:
                await self._open()
            except ConnectError as exc:
                if exc.status == 401 and self._token_provider is not None and not fresh:
                    self._token_expired = True  # expired meanwhile: ask for a fresh one
                    continue
                if exc.permanent:
                    log.warning("reconnect refused for good: %s", exc)
                    self._fail(exc)
                    return
                log.info("reconnect attempt %d failed: %s", self._attempt, exc)
                continue
            fresh = False
            try:
                await self._restore()
            except (_Dropped, TimeoutError):
                log.info("connection lost again while restoring subscriptions")
                if self._ws is not None:
                    await self._ws.close()
                continue
            if self._ws is None:  # dropped again after the restore's last reply
                continue
            self.reconnects += 1
            self._usable.set()
            return

    async def _renew_token(self) -> bool:
        """Ask the token provider for a fresh token; False when there is none."""
        if self._token_provider is None:
            return False
        token = await self._token_provider()
        if not token:
            log.warning("the token expired and the token provider has no fresh one: stopping")
            return False
        self._connector.token = token
        return True

    async def _restore(self) -> None:
        """Subscribe again from where each subscription stood; rejoin presence."""
        for project_ids, seq in self._positions.groups():
            await self._resubscribe(project_ids, seq)
        for project_id in sorted(self._present_in):
            try:
                await self._call("join_presence", commands_pb2.JoinPresence(project_id=project_id))
            except ServerError:
                self._present_in.discard(project_id)

    async def _resubscribe(self, project_ids: list[str], seq: int) -> None:
        command = commands_pb2.Subscribe(
            project_ids=[s for s in project_ids if s not in (TENANT_SCOPE, INBOX_SCOPE)],
            tenant=TENANT_SCOPE in project_ids,
            notifications=INBOX_SCOPE in project_ids,
        )
        command.resume.epoch, command.resume.seq = self._positions.epoch, seq
        self._positions.begin(project_ids)
        try:
            reply = (await self._call("subscribe", command)).subscribed
        except ServerError as exc:  # e.g. the project is gone: this subscription ends
            self._queue_events(self._positions.end(project_ids, None))
            self._positions.unsubscribed(project_ids)
            self._events.put_nowait(exc)
            return
        except BaseException:
            self._positions.end(project_ids, None)
            raise
        if reply.must_refetch:
            self._events.put_nowait(MustRefetch(reply.epoch, reply.seq))
        self._queue_events(self._positions.end(project_ids, reply))


def _closed_text(code: int | None) -> str:
    if code == CLOSE_TOKEN_EXPIRED:
        return "the server closed the connection: the token expired (code 4001)"
    if code == CLOSE_KEY_REVOKED:
        return "the server closed the connection: the API key was revoked (code 4003)"
    return f"the server closed the connection (code {code})"


def _projects_of(message: Message) -> list[str]:
    """The project ids a subscribe or presence command names (the tenant scope as "")."""
    if isinstance(message, commands_pb2.Subscribe):
        return scopes_of(message)
    if isinstance(message, commands_pb2.JoinPresence | commands_pb2.LeavePresence):
        return [message.project_id]
    return []
