"""Public keys fetched from an identity provider's JWKS URL, cached, refetched on rotation.

An identity provider publishes its signing keys at a URL (its ``jwks_uri``) and
rotates them: a new key is published there before tokens signed with it are
issued. :class:`RemoteJwks` holds the last good copy and says when to fetch again:

- when the copy is older than ``max_age`` (a key withdrawn by the provider stops
  verifying within that time);
- when a token names a ``kid`` the copy does not hold (a rotation), but at most
  once per ``min_refetch``, so tokens with made-up kids cannot make pm hammer the
  provider.

A failed fetch (network, HTTP status, size, a document :func:`pm_auth.keys.parse_jwks`
refuses) is logged and keeps the last good keys. Redirects are not followed: the
URL is the provider's published ``jwks_uri``, and a redirect to elsewhere (or from
https to http) is refused rather than trusted.

The fetch is blocking (urllib); :class:`pm_auth.tokens.TokenVerifier` runs it in a
worker thread. The clock is injectable for tests.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from pm_auth.keys import KeyFileError, VerificationKey, parse_jwks

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE: Final = timedelta(minutes=5)
DEFAULT_MIN_REFETCH: Final = timedelta(seconds=10)
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
#: A JWKS of a few dozen keys is a few tens of KiB; anything far larger is not one.
MAX_JWKS_BYTES: Final = 1024 * 1024
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


class JwksFetchError(KeyFileError):
    """A JWKS URL that could not be fetched or did not hold a usable JWKS."""


def check_jwks_url(url: str) -> str:
    """``url`` if pm may fetch keys from it: https, or http on a loopback host only
    (a key fetched over plain http from elsewhere could be replaced on the way)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError("the JWKS URL needs a host, e.g. https://idp.example.com/jwks.json")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return url
    raise ValueError("the JWKS URL must use https (plain http only on a loopback host)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def fetch_jwks(
    url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> tuple[VerificationKey, ...]:
    """The usable keys published at ``url``; JwksFetchError (never key material) on failure."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "pm-jwks"}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data = response.read(MAX_JWKS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise JwksFetchError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise JwksFetchError(f"{url}: cannot fetch ({reason})") from None
    if len(data) > MAX_JWKS_BYTES:
        raise JwksFetchError(f"{url}: larger than {MAX_JWKS_BYTES} bytes")
    try:
        return parse_jwks(data, url)
    except KeyFileError as exc:
        raise JwksFetchError(str(exc)) from None


class RemoteJwks:
    """The keys of one JWKS URL: the last good copy and when to fetch it again."""

    def __init__(
        self,
        url: str,
        *,
        max_age: timedelta = DEFAULT_MAX_AGE,
        min_refetch: timedelta = DEFAULT_MIN_REFETCH,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age <= timedelta(0) or min_refetch < timedelta(0):
            raise ValueError("max_age must be positive and min_refetch not negative")
        self.url = check_jwks_url(url)
        self._max_age = max_age.total_seconds()
        self._min_refetch = min_refetch.total_seconds()
        self._timeout = timeout
        self._clock = clock
        self._keys: tuple[VerificationKey, ...] = ()
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        #: Bumped by every fetch attempt: lets concurrent waiters see one happened.
        self.attempts = 0
        self._lock = threading.Lock()

    def cached(self) -> tuple[VerificationKey, ...]:
        """The last good copy (empty until a fetch succeeds)."""
        return self._keys

    def stale(self) -> bool:
        """True when the copy is missing or older than ``max_age`` and a fetch is allowed."""
        if self._fetched_at is not None and self._clock() - self._fetched_at < self._max_age:
            return False
        return self.may_refetch()

    def may_refetch(self) -> bool:
        """True unless the last attempt is more recent than ``min_refetch``."""
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refetch

    def refresh(self) -> bool:
        """Fetch the keys now (blocking); True if the copy was replaced. A failure is
        logged and keeps the last good copy."""
        with self._lock:
            self._attempted_at = self._clock()
            self.attempts += 1
            try:
                keys = fetch_jwks(self.url, timeout=self._timeout)
            except JwksFetchError as exc:
                log.warning("JWKS fetch failed, keeping %d cached keys: %s", len(self._keys), exc)
                return False
            self._keys = keys
            self._fetched_at = self._clock()
        log.info(
            "JWKS %s fetched: %d keys (%s)",
            self.url,
            len(keys),
            ", ".join(key.kid or "no kid" for key in keys),
        )
        return True
