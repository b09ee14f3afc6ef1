"""One WebSocket connection: a bounded outbound queue drained by one writer task.

Everything the server sends to a client (welcome, replies, errors, events)
goes through :meth:`Connection.send` or :meth:`Connection.deliver`, which
never block. The writer task sends queued replies as they are, and packs
consecutive events into one frame (one ``EventBatch`` per drain), so a burst
costs one send per subscriber per loop tick. Events for a connection whose
writer is idle skip the writer task: the :class:`~pm_server.fanout.Flusher`
writes them to the socket at the end of the tick (see :mod:`pm_server.fanout`
and :mod:`pm_server.wire`).

A connection whose queue holds more than ``max_queued_events`` frames
(events, replies and errors alike: a client that sends but never reads is
bounded too), or more than ``max_queued_event_bytes`` of events, is closed
with :data:`CLOSE_SLOW_CONSUMER`; it resumes from its last ``seq``. One event
is always accepted into a queue that holds no event bytes, so an event larger
than the byte bound is still delivered instead of closing its reader on every
resume.
While a subscription replays history, live events for that project are held
in the subscription's buffer (all buffers of the connection together bounded
by the same two limits) and released, de-duplicated by ``seq``, when the replay
ends: no gap and no duplicate. A direct write that fails closes the connection
with :data:`CLOSE_INTERNAL` (its events are gone; the client resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from pm_auth.tokens import Principal
from pm_server import wire
from pm_server.fanout import Flusher, FrameCache

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011
#: The token's ``exp`` passed; reconnect with a fresh token (and resume).
CLOSE_TOKEN_EXPIRED: Final = 4001
#: The tenant's database was deleted by an operator.
CLOSE_TENANT_DELETED: Final = 4004
#: The client did not read its events fast enough; reconnect and resume.
CLOSE_SLOW_CONSUMER: Final = 4008

MAX_EVENTS_PER_FRAME: Final = 512


_FRAMES: Final = FrameCache()


@dataclass(slots=True)
class Subscription:
    project_id: str
    #: Highest seq queued for the client (events at or below it are duplicates).
    last_seq: int = 0
    replaying: bool = True
    held: list[tuple[int, bytes]] = field(default_factory=list)
    #: Bytes of the events in ``held``.
    held_bytes: int = 0


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        principal: Principal,
        connection_id: str,
        *,
        max_queued_events: int,
        max_queued_event_bytes: int,
        max_subscriptions: int = 1_000,
        transport: asyncio.BaseTransport | None = None,
        flusher: Flusher | None = None,
    ) -> None:
        self.ws = ws
        self._transport = transport
        #: Writes events of an idle connection at the end of the tick (None: the writer does).
        self._direct = wire.direct_writer(transport) if flusher is not None else None
        self._flusher = flusher if self._direct is not None else None
        self._flush_requested = False
        self._writer_idle = False
        self.principal = principal
        self.id = connection_id
        self.subscriptions: dict[str, Subscription] = {}
        self.present_in: set[str] = set()
        #: Projects this connection may be subscribed to at once.
        self.max_subscriptions = max_subscriptions
        self._max_queued = max_queued_events
        self._max_queued_event_bytes = max_queued_event_bytes
        self._out: deque[bytes | tuple[int, bytes]] = deque()
        #: Frames in ``_out`` (events, replies, errors).
        self._queued = 0
        #: Bytes of the events in ``_out``.
        self._queued_event_bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closing = False
        self._send_closed = False
        #: Handler tasks in flight; a graceful close waits for their replies.
        self.tasks: set[asyncio.Task[None]] = set()
        self.close_code: int | None = None
        self.slow_consumer = False
        self._writer_task: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    @property
    def closing(self) -> bool:
        return self._closing

    def log_context(self) -> str:
        return f"conn={self.id} tenant={self.principal.tenant_id} user={self.principal.user_id}"

    # -- queueing (never blocks) ---------------------------------------------

    def send(self, frame: bytes) -> None:
        """Queue one encoded ServerMessage (welcome, reply, error).

        Replies are still accepted while a graceful close waits for in-flight
        commands; only once the socket is about to close are they dropped.
        """
        if self._send_closed:
            return
        self._out.append(frame)
        self._queued += 1
        if self._queued > self._max_queued:
            self._overflow()
            return
        self._kick()

    def deliver(self, project_id: str, seq: int, event: bytes) -> None:
        """Queue one encoded Event of ``project_id`` (called by the hub)."""
        if self._closing:
            return
        subscription = self.subscriptions.get(project_id)
        if subscription is None:
            return
        if subscription.replaying:
            # Held until the subscription is authorised and caught up; presence (seq 0)
            # too, so a refused subscribe never leaks who is present. The bounds count
            # what every replaying subscription of the connection holds.
            held_count, held_bytes = self._held()
            if held_count >= self._max_queued or self._over_bytes(held_bytes, event):
                self._overflow()
                return
            subscription.held.append((seq, event))
            subscription.held_bytes += len(event)
            return
        if seq:
            if seq <= subscription.last_seq:
                return
            subscription.last_seq = seq
        self._queue_event(seq, event)

    def finish_replay(self, subscription: Subscription) -> None:
        """Release the events held during a replay (those not already replayed), go live."""
        held, subscription.held = subscription.held, []
        subscription.held_bytes = 0
        subscription.replaying = False
        for seq, event in held:
            if self._closing:  # overflowed part-way: the client resumes from its last seq
                return
            if seq == 0:
                self._queue_event(seq, event)
            elif seq > subscription.last_seq:
                subscription.last_seq = seq
                self._queue_event(seq, event)

    def queue_replayed(self, subscription: Subscription, seq: int, event: bytes) -> None:
        if self._closing:
            return
        if seq > subscription.last_seq:
            subscription.last_seq = seq
            self._queue_event(seq, event)

    async def drained(self) -> None:
        """Wait until the writer has sent everything queued so far (or the connection
        is closing: nothing more will be sent, so nobody should wait for it)."""
        await self._drained.wait()

    def _queue_event(self, seq: int, event: bytes) -> None:
        if self._closing:  # nothing is queued once closing (after a 4008, nothing is sent)
            return
        if self._queued >= self._max_queued or self._over_bytes(self._queued_event_bytes, event):
            self._overflow()
            return
        self._out.append((seq, event))
        self._queued += 1
        self._queued_event_bytes += len(event)
        if self._flusher is None or not self._writer_idle:
            self._kick()
            return
        self._drained.clear()
        if not self._flush_requested:
            self._flush_requested = True
            self._flusher.request(self)

    def _held(self) -> tuple[int, int]:
        """Events, and their bytes, held by the replaying subscriptions."""
        count = size = 0
        for subscription in self.subscriptions.values():
            count += len(subscription.held)
            size += subscription.held_bytes
        return count, size

    def flush(self) -> None:
        """Write the queued events straight to the socket (called by the Flusher at the
        end of the tick); whatever cannot go that way is left to the writer task."""
        self._flush_requested = False
        direct = self._direct
        while self._out and self._writer_idle and isinstance(self._out[0], tuple):
            if direct is None or self._closing or self.ws.closed or not direct.writable():
                break
            events = self._take_events()
            try:
                direct.write(_FRAMES.wire(events))
            except Exception:  # its events are gone: the client must resume, not skip them
                log.exception("%s direct write failed: closing", self.log_context())
                self._drop_queue()
                self.begin_close(CLOSE_INTERNAL, "internal error: reconnect and resume")
                wire.abort(self._transport)
                return
        if self._out:
            self._kick()
        elif self._writer_idle:
            self._drained.set()

    def _over_bytes(self, queued_bytes: int, event: bytes) -> bool:
        """Whether ``event`` would take ``queued_bytes`` of events past the byte bound
        (never when none are queued: one event of any size always fits)."""
        return queued_bytes > 0 and queued_bytes + len(event) > self._max_queued_event_bytes

    def _kick(self) -> None:
        self._drained.clear()
        self._wake.set()

    def _overflow(self) -> None:
        log.warning("%s slow consumer: closing", self.log_context())
        self.slow_consumer = True
        self.begin_close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and resume")

    # -- writer task and closing ----------------------------------------------

    def start_writer(self) -> None:
        self._writer_task = asyncio.get_running_loop().create_task(
            self._run_writer(), name=f"pm-conn-writer-{self.id}"
        )

    async def _run_writer(self) -> None:
        while True:
            if not self._out:
                self._drained.set()
                if self._send_closed:
                    return
                self._wake.clear()
                self._writer_idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._writer_idle = False
                continue
            item = self._out[0]
            if isinstance(item, bytes):
                self._out.popleft()
                self._queued -= 1
                await self.ws.send_bytes(item)
                continue
            await self.ws.send_bytes(_FRAMES.payload(self._take_events()))

    def _take_events(self) -> list[bytes]:
        """Pop the events at the head of the queue (up to a frame's worth)."""
        events: list[bytes] = []
        out = self._out
        while out and len(events) < MAX_EVENTS_PER_FRAME:
            head = out[0]
            if isinstance(head, bytes):
                break
            out.popleft()
            events.append(head[1])
        self._queued -= len(events)
        self._queued_event_bytes -= sum(map(len, events))
        return events

    def begin_close(self, code: int, message: str, grace: float = 10.0) -> None:
        """Close the socket with ``code``. Never blocks.

        No new events are queued from now on. A graceful close first lets the
        commands in flight finish (up to ``grace`` seconds) and sends their
        replies; a slow consumer's queue is dropped at once.
        """
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        if code == CLOSE_SLOW_CONSUMER:
            self._drop_queue()
        self._wake.set()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, message, grace))

    def _drop_queue(self) -> None:
        """Send nothing more: the client will resume from the last seq it got."""
        self._send_closed = True
        self._out.clear()
        self._queued = 0
        self._queued_event_bytes = 0
        self._drained.set()  # release a replay waiting for a reader that is gone

    async def _close(self, code: int, message: str, grace: float) -> None:
        if self.tasks and not self._send_closed:
            await asyncio.wait(set(self.tasks), timeout=grace)
        self._send_closed = True
        self._wake.set()
        writer = self._writer_task
        if writer is not None:
            if code == CLOSE_SLOW_CONSUMER:
                writer.cancel()
            # A peer that stopped reading can hold a send forever: bound the wait.
            await asyncio.wait({writer}, timeout=2)
            writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message.encode()), timeout=2)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            wire.abort(self._transport)
            if task is not None and task.cancelling():
                raise
        except Exception:
            wire.abort(self._transport)
        if code == CLOSE_SLOW_CONSUMER:
            # Its socket buffer is full, so a graceful close cannot complete.
            wire.abort(self._transport)

    async def wait_finished(self) -> None:
        await self._finished.wait()

    async def finish(self) -> None:
        """After the reader loop ended: stop the writer and wait for any close in progress."""
        try:
            await self._finish()
        finally:
            self._finished.set()

    async def _finish(self) -> None:
        self._closing = True
        self._send_closed = True
        self._drained.set()
        self._wake.set()
        if self._closer is not None:
            await self._closer
        if self._writer_task is not None:
            if not self._writer_task.done():
                await asyncio.wait({self._writer_task}, timeout=2)
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._writer_task
