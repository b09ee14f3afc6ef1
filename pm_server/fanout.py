"""Fan-out of event frames: built once per tick, written straight to idle sockets.

The hub hands each committed event to every subscriber in the same loop tick
(a commit group publishes its events one after another). Instead of waking
one writer task per subscriber, a connection whose writer is idle asks the
:class:`Flusher` for one flush at the end of the tick; the flush writes the
queued events, as one complete WebSocket frame, to the socket's transport
(through :mod:`pm_server.wire`). Every subscriber of the tick gets the same
frame object from the :class:`FrameCache`, so the frame (protobuf splice and
WebSocket header) is built once, not once per subscriber.

A connection that is busy (its writer is sending, or its transport holds
more than :data:`~pm_server.wire.DIRECT_WRITE_LIMIT` unsent bytes) is left
to its writer task, which waits for the socket to drain: a reader that falls
behind keeps its events in its own bounded outbox, where the slow-consumer
bounds apply (see :mod:`pm_server.session`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from pm_proto.frames import event_batch_frame, event_frame
from pm_server.wire import ws_binary_frame

log = logging.getLogger(__name__)


class FrameCache:
    """The last event frame built, reused while the next subscriber sends the same events.

    Subscribers of a project take the same event objects in the same loop
    tick, so the frame is built once per tick instead of once per subscriber.
    Events are compared by identity (the hub hands every subscriber the same
    bytes object), which is exact and cheap.
    """

    __slots__ = ("_events", "_payload", "_wire")

    def __init__(self) -> None:
        self._events: tuple[bytes, ...] = ()
        self._payload = b""
        self._wire: bytes | None = None

    def payload(self, events: Sequence[bytes]) -> bytes:
        """The ServerMessage carrying ``events`` (one ``event``, or an ``events`` batch)."""
        cached = self._events
        if len(cached) == len(events) and all(a is b for a, b in zip(cached, events, strict=True)):
            return self._payload
        payload = event_frame(events[0]) if len(events) == 1 else event_batch_frame(events)
        self._events, self._payload, self._wire = tuple(events), payload, None
        return payload

    def wire(self, events: Sequence[bytes]) -> bytes:
        """:meth:`payload` framed as one WebSocket frame, ready for the transport."""
        payload = self.payload(events)
        if self._wire is None:
            self._wire = ws_binary_frame(payload)
        return self._wire


class Flushable(Protocol):
    def flush(self) -> None: ...


class Flusher:
    """Runs :meth:`Flushable.flush` of each connection asked, once, at the end of the tick."""

    def __init__(self) -> None:
        self._pending: list[Flushable] = []
        self._scheduled = False

    def request(self, connection: Flushable) -> None:
        self._pending.append(connection)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for connection in pending:
            try:
                connection.flush()
            except Exception:  # one connection's failure never stops the others' events
                log.exception("flushing a connection failed")
