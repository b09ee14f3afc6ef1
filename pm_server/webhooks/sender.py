"""One delivery: a signed POST of one event, and what came of it.

The body is the event in protobuf's canonical JSON mapping. The headers name
the delivery (``Pm-Webhook-Id``: the endpoint and the event's seq, the same on
every retry, so a receiver can drop a duplicate), its time in Unix seconds
(``Pm-Webhook-Timestamp``) and ``Pm-Webhook-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``<timestamp>.<body>`` keyed with the endpoint's secret.

Only a 2xx answer counts as delivered. Redirects are not followed (a 3xx is a
failure), at most :data:`RESPONSE_CAP` bytes of the answer are read, and the
whole attempt, connecting included, is bounded by the delivery timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from google.protobuf import json_format

from pm_core.webhooks import signature
from pm_proto.v1 import events_pb2
from pm_server.webhooks.addresses import GuardedResolver, RefusedAddressError, check_literal

ID_HEADER: Final = "Pm-Webhook-Id"
TIMESTAMP_HEADER: Final = "Pm-Webhook-Timestamp"
SIGNATURE_HEADER: Final = "Pm-Webhook-Signature"
#: Bytes of a receiver's answer read at most: the status is what counts.
RESPONSE_CAP: Final = 1_024
_USER_AGENT: Final = "pm-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def body_of(event: events_pb2.Event) -> bytes:
    """The event as sent: canonical proto JSON, compact."""
    as_dict = json_format.MessageToDict(event)
    return json.dumps(as_dict, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_id(webhook_id: str, seq: int) -> str:
    return f"{webhook_id}.{seq}"


class Sender:
    """Posts deliveries over one pooled HTTP client (kept-alive connections per receiver)."""

    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=None if self._allow_private else GuardedResolver(), limit=256
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def send(
        self,
        url: str,
        secret: str,
        webhook_id: str,
        seq: int,
        body: bytes,
        limit: float | None = None,
    ) -> Outcome:
        """Post one event; ``limit`` (seconds) shortens the delivery timeout for this attempt."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            ID_HEADER: delivery_id(webhook_id, seq),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            if not self._allow_private:
                check_literal(urlsplit(url).hostname or "")
            async with self._client().post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                # None here would mean no timeout at all, not the session's.
                timeout=self._timeout if limit is None else aiohttp.ClientTimeout(total=limit),
            ) as response:
                status = response.status
                # Never more than the cap: leaving the rest unread closes the connection.
                await response.content.read(RESPONSE_CAP)
        except RefusedAddressError:
            error = "refused: private or reserved address"
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, RefusedAddressError)
            error = "refused: private or reserved address" if refused else "connection failed"
        except aiohttp.ClientError as exc:
            error = f"failed: {type(exc).__name__}"
        except asyncio.CancelledError:
            raise
        duration_ms = round((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        if status is not None and not ok:
            error = f"HTTP {status}"
        return Outcome(ok, status, None if ok else error, duration_ms)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
