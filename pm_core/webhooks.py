"""Webhook endpoints and their deliveries, as plain data and rules.

An **endpoint** is a URL a tenant admin registers, with a secret, the projects,
entity types and actions it wants (each empty = all), and a state: ``active``
(delivering), ``paused`` (by an admin) or ``disabled`` (after too many
consecutive failures). Its ``acked_seq`` is the last event-log position the
receiver acknowledged (a 2xx answer): delivery resumes after it.

A **delivery** is one attempt to POST one event to one endpoint, kept in the
endpoint's delivery log.

The rules here are pure: which events an endpoint wants, the URL's shape, the
signature and the retry delay. Resolving the URL's host and refusing private
addresses is I/O and lives with the server.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Collection
from typing import Final
from urllib.parse import urlsplit

from pydantic import AwareDatetime

from pm_core.errors import ValidationError
from pm_core.models import WEBHOOK_URL_MAX, Id, Model

URL_MAX: Final = WEBHOOK_URL_MAX
SECRET_MIN: Final = 16
SECRET_MAX: Final = 200
NAME_MAX: Final = 100
#: Projects one endpoint may name in its filter.
MAX_PROJECTS: Final = 100
#: The signature header's scheme: ``sha256=<hex>``.
SIGNATURE_PREFIX: Final = "sha256="


class WebhookDelivery(Model):
    id: Id
    webhook_id: Id
    seq: int
    #: 1 for the first try of an event, +1 per retry; a manual redelivery counts on.
    attempt: int
    ok: bool
    #: The receiver's HTTP status; None when no answer came (timeout, refused, ...).
    status_code: int | None = None
    #: Why it failed, in a few words (``timeout``, ``HTTP 500``); None when it succeeded.
    error: str | None = None
    duration_ms: int
    manual: bool = False
    created_at: AwareDatetime


def webhook_name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX or not cleaned.isprintable():
        raise ValidationError("name", f"name must be 1-{NAME_MAX} printable characters")
    return cleaned


def webhook_url(url: str) -> str:
    """A URL an endpoint may have: http or https, a host, no credentials, no fragment.

    Where the host points is checked by the server (it resolves it).
    """
    cleaned = url.strip()
    if not cleaned or len(cleaned) > URL_MAX or not cleaned.isprintable() or " " in cleaned:
        raise ValidationError("url", f"url must be an http(s) URL of at most {URL_MAX} characters")
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 - reading it checks it (a port out of range raises)
    except ValueError as exc:
        raise ValidationError("url", "url is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url", "url must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url", "url must not carry credentials: use the secret")
    if parts.fragment:
        raise ValidationError("url", "url must not have a fragment")
    return cleaned


def webhook_secret(secret: str) -> str:
    if not SECRET_MIN <= len(secret) <= SECRET_MAX or not secret.isprintable():
        raise ValidationError(
            "secret", f"secret must be {SECRET_MIN}-{SECRET_MAX} printable characters"
        )
    return secret


def secret_hint(secret: str) -> str:
    return "…" + secret[-4:]


def project_filter(project_ids: Collection[str]) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(p for p in project_ids))
    if len(ids) > MAX_PROJECTS:
        raise ValidationError("project_ids", f"at most {MAX_PROJECTS} projects")
    if any(not 1 <= len(p) <= 64 for p in ids):
        raise ValidationError("project_ids", "project ids must be 1-64 characters")
    return ids


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 with the secret over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed ``attempt`` (1 = the first try): exponential, capped,
    drawn between half and all of it so that endpoints failing together do not retry together."""
    ceiling = min(cap, base * (2 ** min(attempt - 1, 30)))
    return (rng or random).uniform(ceiling / 2, ceiling)
