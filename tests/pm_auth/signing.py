"""Signing helpers for the token tests: keys, claims and hand-made tokens."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pm_auth.keys import VerificationKey, hmac_key, public_key

ISSUER = "https://idp.example.test/"
AUDIENCE = "pm-api"
ASYMMETRIC = ("RS256", "ES256", "EdDSA")
ALL = ("HS256", *ASYMMETRIC)


@dataclass(frozen=True)
class Signer:
    """A signing key and the verification key that matches it."""

    algorithm: str
    private: Any  # the HS256 secret, or a cryptography private key
    kid: str | None

    @property
    def verification_key(self) -> VerificationKey:
        if isinstance(self.private, bytes):
            return hmac_key(self.private)
        return public_key(self.private.public_key(), kid=self.kid, source=f"test {self.kid}")

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        data: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        data["kid"] = self.kid
        return data

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """A token signed by this key; the header names this key's kid unless given."""
        if headers is None:
            headers = {"kid": self.kid} if self.kid else {}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


def _new_private(algorithm: str) -> Any:
    if algorithm == "HS256":
        return secrets.token_bytes(32)
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class KeyRing:
    """Per algorithm: the configured key and another key of the same type."""

    right: dict[str, Signer]
    wrong: dict[str, Signer]
    second_rsa: Signer


def new_ring() -> KeyRing:
    def signer(algorithm: str, suffix: str) -> Signer:
        kid = None if algorithm == "HS256" else f"{algorithm.lower()}-{suffix}"
        return Signer(algorithm, _new_private(algorithm), kid)

    return KeyRing(
        right={a: signer(a, "1") for a in ALL},
        wrong={a: signer(a, "1") for a in ALL},  # same kid, another key
        second_rsa=signer("RS256", "2"),
    )


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for the production-like config; ``None`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "tenant": "acme",
        "name": "Alice",
        "email": "alice@example.test",
        "roles": ["tenant_admin"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWT assembled by hand (for tokens no library would sign)."""
    return ".".join(
        [
            b64(json.dumps(header).encode()),
            b64(json.dumps(payload).encode()),
            b64(signature),
        ]
    )


def write_jwks(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"keys": entries}))
    return path
