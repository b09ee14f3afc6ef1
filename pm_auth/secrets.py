"""Opaque secrets: refresh tokens, invitation tokens and API keys share one shape.

A secret reads ``pm<k>.<tenant_id>.<id>.<secret>``:

- ``<k>`` is its kind: ``r`` refresh token, ``i`` invitation, ``k`` API key;
- ``<tenant_id>`` is the tenant whose database holds its row (tenant ids never
  contain ``.``);
- ``<id>`` is the row's id;
- ``<secret>`` is 32 random bytes, base64url without padding (43 characters).

Only ``sha256(<secret>)`` is stored (hex): 256 random bits need no slow hash;
argon2id is for passwords (:mod:`pm_auth.passwords`). A presented secret is
checked by parsing it (:func:`parse_secret`), opening the named tenant's
database *without creating it*, finding the row by id and comparing hashes with
:func:`matches` (constant time). The tenant and id found by parsing are only a
lookup key: nothing is trusted until the hash matched.

What may be logged is :attr:`OpaqueSecret.loggable`, ``pm<k>.<tenant>.<id>``;
the secret's ``repr`` leaves the random part out too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from pm_core.errors import UnauthenticatedError
from pm_core.tenancy import TENANT_ID_PATTERN

SECRET_BYTES: Final = 32
_ID_PATTERN: Final = r"[A-Za-z0-9_-]{1,64}"
_SECRET_PATTERN: Final = r"[A-Za-z0-9_-]{43}"
_SHAPE: Final = re.compile(
    rf"pm(?P<kind>[a-z])\.(?P<tenant>{TENANT_ID_PATTERN})\.(?P<id>{_ID_PATTERN})"
    rf"\.(?P<secret>{_SECRET_PATTERN})"
)
#: Longest text :func:`parse_secret` looks at (anything longer is refused unread).
MAX_LENGTH: Final = 2 + 1 + 63 + 1 + 64 + 1 + 43


class SecretKind(StrEnum):
    """The letter after ``pm`` that says what a secret opens."""

    REFRESH = "r"
    INVITATION = "i"
    API_KEY = "k"


@dataclass(frozen=True, slots=True)
class OpaqueSecret:
    """A parsed or freshly made secret; ``secret`` is the random part (never logged)."""

    kind: SecretKind
    tenant_id: str
    id: str
    secret: str = field(repr=False)

    @property
    def token(self) -> str:
        """The whole secret as handed to its holder (shown once)."""
        return f"{self.loggable}.{self.secret}"

    @property
    def loggable(self) -> str:
        """``pm<k>.<tenant>.<id>``: names the secret in logs without revealing it."""
        return f"pm{self.kind}.{self.tenant_id}.{self.id}"

    @property
    def hash(self) -> str:
        """What is stored: sha256 of the random part, hex."""
        return hash_secret(self.secret)


def new_secret(kind: SecretKind, tenant_id: str, row_id: str) -> OpaqueSecret:
    """A fresh secret for row ``row_id`` of ``tenant_id``; ValueError on a malformed id."""
    if not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise ValueError("tenant id does not match the tenant-id rule")
    if not re.fullmatch(_ID_PATTERN, row_id):
        raise ValueError("a secret's row id is 1-64 of [A-Za-z0-9_-]")
    random = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=")
    return OpaqueSecret(kind, tenant_id, row_id, random.decode("ascii"))


def looks_like(text: str, kind: SecretKind) -> bool:
    """True if ``text`` starts like a secret of ``kind`` (``pmk.``): route it, then parse it."""
    return text.startswith(f"pm{kind}.")


def parse_secret(text: str, kind: SecretKind) -> OpaqueSecret:
    """The parts of a presented secret of ``kind``; UnauthenticatedError if it is none.

    The message never quotes the text.
    """
    if len(text) > MAX_LENGTH:
        raise UnauthenticatedError(f"malformed {_NAMES[kind]}")
    match = _SHAPE.fullmatch(text)
    if match is None or match["kind"] != kind:
        raise UnauthenticatedError(f"malformed {_NAMES[kind]}")
    return OpaqueSecret(kind, match["tenant"], match["id"], match["secret"])


def hash_secret(secret: str) -> str:
    """sha256 of the random part, hex: the stored form."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def matches(secret: OpaqueSecret, stored_hash: str) -> bool:
    """Whether ``secret`` is the one ``stored_hash`` was made from (constant-time compare)."""
    return hmac.compare_digest(secret.hash, stored_hash)


_NAMES: Final = {
    SecretKind.REFRESH: "refresh token",
    SecretKind.INVITATION: "invitation token",
    SecretKind.API_KEY: "API key",
}
