"""The client's own rate limit, learnt from the server's RATE_LIMITED answers.

A client that sends faster than its connection's rate is refused, waits, and
sends again: every other frame a refusal. Once refused, :class:`Pacer` spaces
the client's sends (new requests and retries alike) at a little under the
rate the server stated (``Error.rate_per_second``) and never before the time
it was told (``retry_after_ms``), so the server's bucket refills ahead of the
client instead of being found empty. Before the first refusal nothing is
paced: a client within its limits pays nothing.

Pure state driven with explicit times (the event loop's clock); the client
sleeps for what :meth:`Pacer.delay` returns.
"""

from __future__ import annotations

from typing import Final

#: The share of the stated rate the client uses: leaves room for jitter on the way.
HEADROOM: Final = 0.95


class Pacer:
    """A token bucket of one token at a learnt rate (none before the first refusal)."""

    __slots__ = ("_next", "rate")

    def __init__(self) -> None:
        #: Sends per second once learnt (0.0: not paced).
        self.rate = 0.0
        self._next = 0.0

    def refused(self, now: float, retry_after: float, rate: float) -> None:
        """The server refused a request at ``now``: send nothing before its retry time."""
        if rate > 0:
            self.rate = rate * HEADROOM
        self._next = max(self._next, now + retry_after)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next send (and book that send's place)."""
        if not self.rate:
            return max(0.0, self._next - now)
        send_at = max(now, self._next)
        self._next = send_at + 1 / self.rate
        return send_at - now
