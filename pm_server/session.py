"""One connection's protocol state, without I/O: what waits for the client, and when to give up.

Shaped like websockets' sans-I/O ``Protocol``: state goes in through methods
(a reply to send, an event published, a page of replayed history) and
decisions come out, as the outcome of each call (:data:`QUEUED`: frames wait
to be sent; :data:`OVERFLOW`: the client is a slow consumer, close it with
:data:`CLOSE_SLOW_CONSUMER`) and as the frames :meth:`Session.pop` hands
out. The session never awaits and imports neither asyncio nor aiohttp:
:class:`pm_server.connection.Connection` drives it (the writer task, direct
writes, the close), and unit tests drive it with no socket at all. The hub
and the handlers change it only through its methods.

What a session owns:

- The outbox: every frame for the client (welcome, replies, errors, events),
  in order, bounded by frames (``max_frames``) and by bytes (``max_bytes``).
  A frame that would take the outbox past either bound is an overflow: the
  outbox is dropped and nothing is queued again (the client reconnects and
  resumes from its last ``seq``). One frame is always accepted into an empty
  outbox, so one frame larger than the byte bound is still delivered (a
  resume would otherwise loop on it).
- Subscriptions, each with the highest ``seq`` queued for it (its floor: an
  event at or below it is a duplicate and is dropped). Events of a tenant
  arrive in ``seq`` order, so the floor never skips one. Subscribing again to
  a project keeps the subscription and its floor: nothing is sent twice and
  nothing is skipped.
- Live events held while a subscription replays history, released above the
  floor when the replay ends (no gap, no duplicate). All that a connection
  holds is bounded by the same two bounds.
- The projects where the connection is present.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

#: The client did not read fast enough; it reconnects and resumes from its last seq.
CLOSE_SLOW_CONSUMER: Final = 4008

#: Outcome of a call that may queue frames: nothing new to send.
IDLE: Final = 0
#: Outcome: frames wait in the outbox (wake the writer).
QUEUED: Final = 1
#: Outcome: a bound was passed; the session is closing with CLOSE_SLOW_CONSUMER.
OVERFLOW: Final = 2

#: Events sent in one frame at most (one ``EventBatch``).
MAX_EVENTS_PER_FRAME: Final = 512


@dataclass(slots=True, eq=False)
class Subscription:
    project_id: str
    #: Highest seq queued for the client (events at or below it are duplicates).
    last_seq: int = 0
    replaying: bool = True
    #: Live events (seq, encoded event) that arrived during the replay.
    held: list[tuple[int, bytes]] = field(default_factory=list)
    #: Bytes of the events in ``held``.
    held_bytes: int = 0


class Session:
    """The protocol state of one connection (see the module docstring)."""

    __slots__ = (
        "_closing",
        "_held_bytes",
        "_held_frames",
        "_out",
        "_present_in",
        "_send_closed",
        "_subscriptions",
        "close_code",
        "max_bytes",
        "max_frames",
        "max_subscriptions",
        "peak_queued_bytes",
        "queued_bytes",
        "queued_frames",
        "slow_consumer",
    )

    def __init__(self, *, max_frames: int, max_bytes: int, max_subscriptions: int = 1_000) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        #: Projects the connection may be subscribed to at once.
        self.max_subscriptions = max_subscriptions
        # An event is queued as the very bytes object the hub hands every subscriber (the
        # shared frame cache compares by identity, and an event costs no allocation); any
        # other frame is wrapped in a 1-tuple to tell it apart.
        self._out: deque[bytes | tuple[bytes]] = deque()
        #: Frames in the outbox (each event counts as one).
        self.queued_frames = 0
        #: Bytes of the frames in the outbox (events, replies, errors, welcome).
        self.queued_bytes = 0
        #: The most ``queued_bytes`` ever was (logged when the connection ends).
        self.peak_queued_bytes = 0
        self._subscriptions: dict[str, Subscription] = {}
        self._held_frames = 0
        self._held_bytes = 0
        self._present_in: set[str] = set()
        self._closing = False
        self._send_closed = False
        #: The close code decided (None while open, or when the socket just went away).
        self.close_code: int | None = None
        self.slow_consumer = False

    @property
    def closing(self) -> bool:
        """No event is queued any more (replies still are until :meth:`stop_sending`)."""
        return self._closing

    @property
    def send_closed(self) -> bool:
        """Nothing at all is queued any more."""
        return self._send_closed

    @property
    def held_frames(self) -> int:
        """Events held by the replaying subscriptions."""
        return self._held_frames

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    # -- frames in ------------------------------------------------------------

    def send(self, frame: bytes) -> int:
        """Queue one encoded ServerMessage that is not an event (welcome, reply, error).

        Replies are still accepted while a graceful close waits for the
        commands in flight; they count against both bounds like events.
        """
        if self._send_closed:
            return IDLE
        size = len(frame)
        frames = self.queued_frames
        if frames and (frames >= self.max_frames or self.queued_bytes + size > self.max_bytes):
            return self._overflow()
        self._out.append((frame,))
        self._count(frames, size)
        return QUEUED

    def deliver(self, project_id: str, seq: int, event: bytes) -> int:
        """Queue one published event of ``project_id`` (``seq`` 0: presence, never stored)."""
        if self._closing:
            return IDLE
        subscription = self._subscriptions.get(project_id)
        if subscription is None:
            return IDLE
        if subscription.replaying:
            return self._hold(subscription, seq, event)
        if seq:
            if seq <= subscription.last_seq:
                return IDLE
            subscription.last_seq = seq
        return self._queue_event(event)

    def _queue_event(self, event: bytes) -> int:
        if self._closing:  # nothing is queued once closing (after a 4008, nothing is sent)
            return IDLE
        size = len(event)
        frames = self.queued_frames
        if frames and (frames >= self.max_frames or self.queued_bytes + size > self.max_bytes):
            return self._overflow()
        self._out.append(event)
        self._count(frames, size)
        return QUEUED

    def _count(self, frames: int, size: int) -> None:
        self.queued_frames = frames + 1
        queued = self.queued_bytes + size
        self.queued_bytes = queued
        if queued > self.peak_queued_bytes:  # noqa: PLR1730 (per event: no call)
            self.peak_queued_bytes = queued

    def _hold(self, subscription: Subscription, seq: int, event: bytes) -> int:
        # Held until the subscription is authorised and caught up; presence (seq 0) too,
        # so a refused subscribe never leaks who is present.
        size = len(event)
        held = self._held_frames
        if held and (held >= self.max_frames or self._held_bytes + size > self.max_bytes):
            return self._overflow()
        subscription.held.append((seq, event))
        subscription.held_bytes += size
        self._held_frames = held + 1
        self._held_bytes += size
        return IDLE

    # -- frames out -----------------------------------------------------------

    def pop(self) -> bytes | list[bytes] | None:
        """The next frame to send: a frame queued by :meth:`send`, or the events at the
        head of the outbox (up to :data:`MAX_EVENTS_PER_FRAME`) to send as one frame.
        None when the outbox is empty."""
        out = self._out
        if not out:
            return None
        head = out[0]
        if isinstance(head, tuple):
            out.popleft()
            frame = head[0]
            self.queued_frames -= 1
            self.queued_bytes -= len(frame)
            return frame
        return self.pop_events()

    def head_is_events(self) -> bool:
        out = self._out
        return bool(out) and not isinstance(out[0], tuple)

    def pop_events(self) -> list[bytes]:
        """The events at the head of the outbox, up to a frame's worth (none when a
        reply is at the head)."""
        events: list[bytes] = []
        size = 0
        out = self._out
        while out and len(events) < MAX_EVENTS_PER_FRAME:
            head = out[0]
            if isinstance(head, tuple):
                break
            out.popleft()
            events.append(head)
            size += len(head)
        self.queued_frames -= len(events)
        self.queued_bytes -= size
        return events

    # -- subscriptions --------------------------------------------------------

    def subscription(self, project_id: str) -> Subscription | None:
        return self._subscriptions.get(project_id)

    def subscribed(self) -> list[str]:
        return list(self._subscriptions)

    def would_exceed(self, project_ids: Iterable[str]) -> bool:
        """Whether subscribing to ``project_ids`` would pass ``max_subscriptions``."""
        return len(self._subscriptions.keys() | set(project_ids)) > self.max_subscriptions

    def subscribe(self, project_id: str) -> Subscription | None:
        """A new subscription to ``project_id``, replaying: its live events are held
        until :meth:`go_live`. None when the connection is already subscribed: that
        subscription goes on unchanged, floor and all (nothing twice, nothing skipped)."""
        if project_id in self._subscriptions:
            return None
        subscription = Subscription(project_id)
        self._subscriptions[project_id] = subscription
        return subscription

    def unsubscribe(self, project_id: str, subscription: Subscription | None = None) -> bool:
        """End the subscription to ``project_id`` (only if it is ``subscription``, when
        given); its held events are discarded. False when there was none."""
        current = self._subscriptions.get(project_id)
        if current is None or (subscription is not None and current is not subscription):
            return False
        del self._subscriptions[project_id]
        self._discard_held(current)
        return True

    def unsubscribe_all(self) -> list[str]:
        """End every subscription; the projects they were to."""
        project_ids = list(self._subscriptions)
        for subscription in self._subscriptions.values():
            self._discard_held(subscription)
        self._subscriptions.clear()
        return project_ids

    def is_current(self, subscription: Subscription) -> bool:
        """Whether ``subscription`` still is the connection's subscription to its project
        (not unsubscribed, dropped or replaced since)."""
        return self._subscriptions.get(subscription.project_id) is subscription

    def raise_floor(self, subscription: Subscription, seq: int) -> None:
        """Send no event of ``subscription`` at or below ``seq`` (the client has them).
        A floor only rises: what was queued is never sent again."""
        if seq > subscription.last_seq and self.is_current(subscription):
            subscription.last_seq = seq

    def replayed(self, subscription: Subscription, seq: int, event: bytes) -> int:
        """Queue one stored event read by ``subscription``'s replay (in ``seq`` order)."""
        if self._closing or seq <= subscription.last_seq or not self.is_current(subscription):
            return IDLE
        subscription.last_seq = seq
        return self._queue_event(event)

    def go_live(self, subscription: Subscription) -> int:
        """End ``subscription``'s replay: queue the events held meanwhile that are above
        its floor, in order; from now on its events are queued as they come."""
        if not subscription.replaying or not self.is_current(subscription):
            return IDLE
        held = subscription.held
        self._discard_held(subscription)
        subscription.replaying = False
        queued = IDLE
        for seq, event in held:
            if seq:
                if seq <= subscription.last_seq:
                    continue
                subscription.last_seq = seq
            outcome = self._queue_event(event)
            if outcome != QUEUED:  # closing, or overflowed part-way: nothing after the gap
                return outcome
            queued = QUEUED
        return queued

    def _discard_held(self, subscription: Subscription) -> None:
        self._held_frames -= len(subscription.held)
        self._held_bytes -= subscription.held_bytes
        subscription.held = []
        subscription.held_bytes = 0

    # -- presence -------------------------------------------------------------

    def join(self, project_id: str) -> bool:
        """Mark the connection present in ``project_id``; False when it already was."""
        if project_id in self._present_in:
            return False
        self._present_in.add(project_id)
        return True

    def leave(self, project_id: str) -> bool:
        """False when the connection was not present there."""
        if project_id not in self._present_in:
            return False
        self._present_in.discard(project_id)
        return True

    def leave_all(self) -> list[str]:
        project_ids = sorted(self._present_in)
        self._present_in.clear()
        return project_ids

    def is_present(self, project_id: str) -> bool:
        return project_id in self._present_in

    # -- closing --------------------------------------------------------------

    def close(self, code: int, *, drop: bool = False) -> bool:
        """Begin closing with ``code``: no event is queued from now on. With ``drop``
        (always for a slow consumer) the outbox is discarded and nothing more is
        queued. False when the session was already closing (its code stays)."""
        started = not self._closing
        if started:
            self._closing = True
            self.close_code = code
        if drop or code == CLOSE_SLOW_CONSUMER:
            self._drop()
        return started

    def stop_sending(self) -> None:
        """Queue nothing more (what is queued is still sent)."""
        self._closing = True
        self._send_closed = True

    def _overflow(self) -> int:
        self.slow_consumer = True
        self.close(CLOSE_SLOW_CONSUMER)
        return OVERFLOW

    def _drop(self) -> None:
        self._closing = True
        self._send_closed = True
        self._out.clear()
        self.queued_frames = 0
        self.queued_bytes = 0
        for subscription in self._subscriptions.values():
            self._discard_held(subscription)
