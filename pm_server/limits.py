"""What one client, user or tenant may use: connection caps, rate limits, list sizes.

- **Connection caps** (total, per tenant, per user) are checked before the
  WebSocket upgrade; :meth:`ServerLimits.open` raises
  :class:`~pm_core.errors.TooManyConnectionsError` when one is full (its
  ``reason`` is the ``pm_connections_refused_total`` label).
- **Rate limits** are token buckets, one per connection and one per tenant
  (shared by all its connections). A request over HTTP has no connection of its
  own: its first bucket is its *caller's* (one per token subject or API key, kept
  between requests, with the rate and burst of a connection's). Every frame a
  client sends costs one token of each; a frame that finds either bucket empty is refused with
  RATE_LIMITED, a ``retry_after`` and the bucket's rate. A connection's
  refusals are given successive *slots* one token apart (:class:`Pacer`), so
  that each refused request is told when it will find a token if the client
  sends nothing ahead of it, and concurrent refusals are not all told the
  same instant. Only a refusal the client could have avoided counts towards
  the flood close: a request sent again before its slot, a frame without a
  request id, or a new request while the connection already holds
  ``max_inflight`` refused requests waiting for their slots. A connection
  with ``flood_refusals`` such refusals within ``flood_window`` seconds
  ignores the answers: :meth:`ConnectionLimits.flooding` tells the reader to
  close it. A client that waits as told is never closed.
- **Origins**: a browser (a request with an ``Origin`` header) may connect from
  the same origin or a configured one; other clients send no Origin.
- **List sizes**: no repeated field of a command may hold more than
  ``max_list_items`` entries.

All of it is in-memory state of one process, touched only from the event loop.
docs/security.md lists every limit with its default and what it produces.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry, Counter

from pm_core.errors import TooManyConnectionsError, ValidationError
from pm_server.settings import Settings

Clock = Callable[[], float]

#: The ``pm_connections_refused_total`` reason of a refused origin (a full connection
#: cap's is :attr:`TooManyConnectionsError.reason`).
REFUSED_ORIGIN: Final = "origin"

#: Idle tenants' state is swept once per this many connection opens.
_SWEEP_EVERY: Final = 1_024
#: Float slack: a client that waited exactly the time it was told gets its token.
_EPSILON: Final = 1e-9
#: HTTP callers whose bucket is remembered at most; past it the least recently seen is
#: forgotten (a fresh bucket if it comes back). Full buckets are swept with idle tenants.
CALLERS_CAP: Final = 10_000


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0.0: one is available now)."""
        self._refill(now)
        if self.tokens >= 1 - _EPSILON:
            return 0.0
        return (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity - _EPSILON


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused frame: the seconds to wait and the rate (tokens/s) of the empty bucket."""

    retry_after: float
    rate: float
    #: Whether the refusal counts towards the flood close.
    counted: bool = True


class Pacer:
    """The slots a connection's refused requests are told to come back at.

    Slots are one token of the empty bucket apart and never go back in time,
    so N requests refused together are told N successive instants instead of
    the same one (at which only one of them would find a token). A request
    sent again under the same ``request_id`` before its slot is early and
    keeps its slot; one sent at or after it that is refused again (another
    request took the token) gets a new slot and is not counted. A new request
    is counted only when ``allowance`` refused requests already wait for a
    future slot: a client with up to ``allowance`` requests in flight that
    waits as told is never counted. Pure state, driven with explicit times.
    """

    __slots__ = ("_allowance", "_capacity", "_next_slot", "_slots")

    def __init__(self, allowance: int, capacity: int) -> None:
        self._allowance = allowance
        self._capacity = max(capacity, allowance)
        self._next_slot = 0.0
        #: request_id -> slot, in slot order (slots only grow).
        self._slots: OrderedDict[str, float] = OrderedDict()

    @property
    def waiting(self) -> int:
        """Refused requests whose slot is still ahead (as of the last refusal)."""
        return len(self._slots)

    def refuse(self, now: float, request_id: str, refusal: Refusal) -> Refusal:
        """The answer to a request refused at ``now`` by ``refusal``'s bucket."""
        slots = self._slots
        while slots and next(iter(slots.values())) <= now + _EPSILON:
            slots.popitem(last=False)  # those slots are due: not waiting any more
        slot = slots.get(request_id) if request_id else None
        if slot is not None:  # sent again before its slot: early, and it keeps its place
            return Refusal(slot - now, refusal.rate)
        counted = not request_id or len(slots) >= self._allowance
        slot = max(now + refusal.retry_after, self._next_slot)
        self._next_slot = slot + 1 / refusal.rate
        if request_id:
            slots[request_id] = slot
            if len(slots) > self._capacity:
                slots.popitem(last=False)
        return Refusal(slot - now, refusal.rate, counted)


@dataclass(slots=True)
class _TenantUsage:
    connections: int = 0
    users: dict[str, int] = field(default_factory=dict)
    bucket: TokenBucket | None = None


class ServerLimits:
    """The process-wide limits: connection counts and the tenants' rate buckets."""

    def __init__(
        self, settings: Settings, registry: CollectorRegistry, clock: Clock = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._total = 0
        self._tenants: dict[str, _TenantUsage] = {}
        self._opens = 0
        #: (tenant, caller) -> the bucket of an HTTP caller, least recently used first.
        self._callers: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()
        self.allowed_origins = frozenset(settings.allowed_origins)
        self.rate_limited = Counter(
            "pm_rate_limited",
            "Commands refused with RATE_LIMITED, by the bucket that was empty",
            ["scope"],
            registry=registry,
        )
        self.limit_closes = Counter(
            "pm_limit_closes",
            "Connections closed by a limit, by reason (flood: 1008, token_expired: 4001)",
            ["reason"],
            registry=registry,
        )

    def open(self, tenant_id: str, user_id: str, caller: str | None = None) -> ConnectionLimits:
        """Count one more connection of ``user_id`` in ``tenant_id``, or refuse it.

        Raises :class:`TooManyConnectionsError` when a cap is full; otherwise the
        caller must :meth:`ConnectionLimits.close` the result exactly once. An HTTP
        request names its ``caller`` (its token subject or API key): its first bucket
        is then that caller's, kept between requests, not a fresh one.
        """
        settings = self.settings
        if self._total >= settings.max_connections:
            raise TooManyConnectionsError("server", settings.max_connections)
        usage = self._tenants.get(tenant_id)
        if usage is None:
            usage = self._tenants[tenant_id] = _TenantUsage()
        if usage.connections >= settings.max_connections_per_tenant:
            raise TooManyConnectionsError("tenant", settings.max_connections_per_tenant)
        if usage.users.get(user_id, 0) >= settings.max_connections_per_user:
            raise TooManyConnectionsError("user", settings.max_connections_per_user)
        now = self._clock()
        if usage.bucket is None and settings.rate_limit_tenant_per_second > 0:
            usage.bucket = TokenBucket.full(
                settings.rate_limit_tenant_per_second, settings.rate_limit_tenant_burst, now
            )
        connection_bucket = None
        if settings.rate_limit_connection_per_second > 0:
            if caller is not None:
                connection_bucket = self._caller_bucket((tenant_id, caller), now)
            else:
                connection_bucket = self._full_connection_bucket(now)
        self._total += 1
        usage.connections += 1
        usage.users[user_id] = usage.users.get(user_id, 0) + 1
        self._opens += 1
        if self._opens % _SWEEP_EVERY == 0:
            self._sweep(now)
        return ConnectionLimits(self, tenant_id, user_id, usage, connection_bucket)

    def _full_connection_bucket(self, now: float) -> TokenBucket:
        settings = self.settings
        return TokenBucket.full(
            settings.rate_limit_connection_per_second, settings.rate_limit_connection_burst, now
        )

    def _caller_bucket(self, key: tuple[str, str], now: float) -> TokenBucket:
        callers = self._callers
        bucket = callers.get(key)
        if bucket is None:
            bucket = callers[key] = self._full_connection_bucket(now)
            if len(callers) > CALLERS_CAP:
                callers.popitem(last=False)
        else:
            callers.move_to_end(key)
        return bucket

    def tenant_connections(self, tenant_id: str) -> int:
        """Open connections of ``tenant_id`` served by this process."""
        usage = self._tenants.get(tenant_id)
        return 0 if usage is None else usage.connections

    def release(self, tenant_id: str, user_id: str, usage: _TenantUsage) -> None:
        self._total -= 1
        usage.connections -= 1
        left = usage.users[user_id] - 1
        if left:
            usage.users[user_id] = left
        else:
            del usage.users[user_id]
        if not usage.connections and self._forgettable(usage, self._clock()):
            del self._tenants[tenant_id]

    @staticmethod
    def _forgettable(usage: _TenantUsage, now: float) -> bool:
        """A tenant with no connection and a full bucket is the same as an unknown one.

        A tenant whose last connection closes with a depleted bucket keeps it,
        so reconnecting does not refill it early.
        """
        return not usage.connections and (usage.bucket is None or usage.bucket.is_full(now))

    def _sweep(self, now: float) -> None:
        for tenant_id, usage in list(self._tenants.items()):
            if self._forgettable(usage, now):
                del self._tenants[tenant_id]
        for key, bucket in list(self._callers.items()):
            if bucket.is_full(now):  # the same as a caller never seen
                del self._callers[key]

    def admit(self, usage: _TenantUsage, connection_bucket: TokenBucket | None) -> Refusal | None:
        """Spend a token of both buckets: None, or the wait until both have one."""
        now = self._clock()
        own = connection_bucket.wait(now) if connection_bucket is not None else 0.0
        shared = usage.bucket.wait(now) if usage.bucket is not None else 0.0
        if not own and not shared:
            if connection_bucket is not None:
                connection_bucket.take()
            if usage.bucket is not None:
                usage.bucket.take()
            return None
        mine = own >= shared
        self.rate_limited.labels("connection" if mine else "tenant").inc()
        bucket = connection_bucket if mine else usage.bucket
        assert bucket is not None  # its wait was positive
        return Refusal(max(own, shared), bucket.rate)

    def now(self) -> float:
        return self._clock()


class ConnectionLimits:
    """The limits of one open connection (from :meth:`ServerLimits.open`)."""

    def __init__(
        self,
        server: ServerLimits,
        tenant_id: str,
        user_id: str,
        usage: _TenantUsage,
        bucket: TokenBucket | None,
    ) -> None:
        self._server = server
        self._tenant_id = tenant_id
        self._user_id = user_id
        self._usage = usage
        self._bucket = bucket
        settings = server.settings
        self._window = settings.rate_limit_flood_window_seconds
        flood = settings.rate_limit_flood_refusals
        self._refusals: deque[float] | None = deque(maxlen=flood) if flood else None
        inflight = settings.max_inflight_per_connection
        self._pacer = Pacer(inflight, 4 * inflight + flood)
        self._closed = False

    def admit(self, request_id: Callable[[], str]) -> Refusal | None:
        """Spend one token for a command: None when admitted, else the answer to send.

        ``request_id`` reads the frame's request id; it is called only for a
        refused frame (empty when it cannot be read).
        """
        refusal = self._server.admit(self._usage, self._bucket)
        if refusal is None:
            return None
        now = self._server.now()
        answer = self._pacer.refuse(now, request_id(), refusal)
        if answer.counted and self._refusals is not None:
            self._refusals.append(now)
        # Whole milliseconds, rounded up: coming back after retry_after_ms finds the slot due.
        return Refusal(math.ceil(answer.retry_after * 1000) / 1000, answer.rate, answer.counted)

    def flooding(self) -> bool:
        """Whether this connection was refused ``flood_refusals`` times within the window."""
        refusals = self._refusals
        if refusals is None or len(refusals) < (refusals.maxlen or 0):
            return False
        return refusals[-1] - refusals[0] <= self._window

    def close(self) -> None:
        """Stop counting this connection. Idempotent."""
        if not self._closed:
            self._closed = True
            self._server.release(self._tenant_id, self._user_id, self._usage)


def origin_allowed(origin: str | None, host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request with this ``Origin`` (None: not a browser) may connect.

    Allowed: no Origin at all, the same origin (its host and port equal the
    ``Host`` header), any origin in ``allowed`` (scheme://host[:port],
    lower case), or anything when ``allowed`` holds ``*``.
    """
    if origin is None or "*" in allowed:
        return True
    normalised = origin.strip().rstrip("/").lower()
    if normalised in allowed:
        return True
    scheme, sep, authority = normalised.partition("://")
    if not sep or scheme not in ("http", "https") or host is None:
        return False
    return _with_port(authority, scheme) == _with_port(host.strip().lower(), scheme)


def _with_port(authority: str, scheme: str) -> str:
    """``host:port`` with the scheme's default port filled in."""
    if authority.endswith("]") or ":" not in authority.rpartition("]")[2]:
        return f"{authority}:{443 if scheme == 'https' else 80}"
    return authority


def check_list_sizes(message: Message, max_items: int, prefix: str = "") -> None:
    """VALIDATION_ERROR naming the first repeated field with more than ``max_items`` entries."""
    if not _may_hold_lists(message.DESCRIPTOR):
        return  # most commands: nothing to walk
    for descriptor, value in message.ListFields():
        name = prefix + descriptor.name
        if descriptor.is_repeated:
            if len(value) > max_items:
                raise ValidationError(name, f"{name} may hold at most {max_items} entries")
            if descriptor.message_type is not None:
                for item in value:
                    if isinstance(item, Message):
                        check_list_sizes(item, max_items, name + ".")
        elif descriptor.message_type is not None:
            check_list_sizes(value, max_items, name + ".")


@functools.cache
def _may_hold_lists(descriptor: Descriptor) -> bool:
    """Whether messages of this type can hold a repeated field, at any depth."""
    return _holds_repeated(descriptor, set())


def _holds_repeated(descriptor: Descriptor, visiting: set[str]) -> bool:
    if descriptor.full_name in visiting:
        return False  # a recursive type: its fields are being looked at already
    visiting.add(descriptor.full_name)
    return any(
        field.is_repeated
        or (field.message_type is not None and _holds_repeated(field.message_type, visiting))
        for field in descriptor.fields
    )


LIMITS = web.AppKey("limits", ServerLimits)
