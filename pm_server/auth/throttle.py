"""Brute-force limits on sign-in: token buckets per account and per client address.

Every password attempt (a login, a password change) takes one token from the
bucket of the account it names (tenant and email key, whether or not such an
account exists, so the limit says nothing about existence) and one from the
bucket of the client's address. An attempt that finds either bucket empty is
refused with RATE_LIMITED and the time until a token is back, before any
password is checked. A successful attempt gives its tokens back, so only
failures use the budget up. Taking the token before checking (rather than
after a failure) keeps concurrent guesses within the limit too.

The address is the peer address of the TCP connection: behind a reverse proxy
that is the proxy's, so put the per-address limit in the proxy (pm does not
trust ``X-Forwarded-For``). Buckets of idle keys are dropped when full again,
and at most ``max_keys`` of each kind are held (the oldest go first), so
memory stays bounded however many emails or addresses are tried.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from pm_server.limits import TokenBucket

K = TypeVar("K")

#: Buckets held per kind (account, address) before the least recently used go.
MAX_KEYS: Final = 100_000
#: Full buckets are swept once per this many attempts.
_SWEEP_EVERY: Final = 1_024


@dataclass(frozen=True, slots=True)
class Rate:
    """``burst`` attempts at once, refilled at ``per_minute``."""

    burst: int
    per_minute: float


class _Buckets(Generic[K]):
    def __init__(self, rate: Rate, clock: Callable[[], float], max_keys: int) -> None:
        self._rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()

    def wait(self, key: K) -> float:
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(self._clock())

    def take(self, key: K) -> None:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket.full(self._rate.per_minute / 60.0, self._rate.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.wait(now)  # refill up to now before spending
        bucket.take()

    def give_back(self, key: K) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1)

    def sweep(self) -> None:
        now = self._clock()
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


class LoginThrottle:
    """The sign-in buckets of one process (touched from the event loop only)."""

    def __init__(
        self,
        account: Rate,
        address: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._accounts: _Buckets[tuple[str, str]] = _Buckets(account, clock, max_keys)
        self._addresses: _Buckets[str] = _Buckets(address, clock, max_keys)
        self._attempts = 0

    def attempt(self, tenant_id: str, email_key: str, address: str) -> float:
        """Take a token of both buckets; 0.0 if admitted, else seconds to wait (nothing taken)."""
        self._attempts += 1
        if self._attempts % _SWEEP_EVERY == 0:
            self._accounts.sweep()
            self._addresses.sweep()
        account = (tenant_id, email_key)
        wait = max(self._accounts.wait(account), self._addresses.wait(address))
        if wait:
            return wait
        self._accounts.take(account)
        self._addresses.take(address)
        return 0.0

    def succeeded(self, tenant_id: str, email_key: str, address: str) -> None:
        """The attempt was right: its tokens go back."""
        self._accounts.give_back((tenant_id, email_key))
        self._addresses.give_back(address)

    @property
    def held(self) -> tuple[int, int]:
        """Buckets held (accounts, addresses), for tests and metrics."""
        return len(self._accounts), len(self._addresses)
