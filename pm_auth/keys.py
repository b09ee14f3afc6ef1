"""Verification keys: what a token's signature is checked against.

A key is bound to exactly one algorithm by its type, never by a token's header:

=======================  =========
key                      algorithm
=======================  =========
HMAC secret (>= 32 B)    HS256
RSA public (>= 2048 b)   RS256
EC public, P-256         ES256
Ed25519 / Ed448 public   EdDSA
=======================  =========

Public keys come from a PEM file (one public key or X.509 certificate) and/or a
JWKS file (``{"keys": [...]}``, several keys told apart by ``kid``). A JWKS entry
of a kind pm does not verify (an encryption key, another algorithm or curve) is
skipped with a warning; anything unsafe or malformed (private or symmetric key
material, a short RSA key, a duplicate ``kid``, unreadable JSON) refuses the
whole file with :class:`KeyFileError`. Messages name the file and the reason,
never key material.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, get_args

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

log = logging.getLogger(__name__)

Algorithm: TypeAlias = Literal["HS256", "RS256", "ES256", "EdDSA"]
ALGORITHMS: Final[tuple[Algorithm, ...]] = get_args(Algorithm)
PublicKey: TypeAlias = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey

MIN_HMAC_BYTES: Final = 32  # RFC 7518 3.2: at least the hash output size
MIN_RSA_BITS: Final = 2048
_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class KeyFileError(ValueError):
    """A key file pm refuses to use (the message names the file and the reason).

    A start-up configuration error like the ValueErrors of ``AuthConfig``: ``pm
    serve`` reports it before any client connects, so it is not in the protocol
    error tree of :mod:`pm_core.errors`.
    """


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One key and the single algorithm it verifies."""

    algorithm: Algorithm
    key: bytes | PublicKey = field(repr=False)
    kid: str | None = None
    #: Where the key came from, for logs and errors: "dev key", "PEM <path>", "JWKS <path> #2".
    source: str = ""


def hmac_key(secret: bytes, *, source: str = "dev key") -> VerificationKey:
    """The HS256 key for ``secret`` (at least 32 bytes)."""
    if len(secret) < MIN_HMAC_BYTES:
        raise ValueError(f"{source}: an HS256 secret needs at least {MIN_HMAC_BYTES} bytes")
    return VerificationKey("HS256", secret, None, source)


def public_key(key: object, *, kid: str | None = None, source: str = "") -> VerificationKey:
    """``key`` bound to the one algorithm its type verifies; ValueError if pm cannot use it."""
    algorithm: Algorithm
    if isinstance(key, RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"{source}: RSA key of {key.key_size} bits (minimum {MIN_RSA_BITS})")
        algorithm = "RS256"
    elif isinstance(key, EllipticCurvePublicKey):
        if not isinstance(key.curve, SECP256R1):
            raise ValueError(f"{source}: EC key on {key.curve.name}; ES256 needs P-256")
        algorithm = "ES256"
    elif isinstance(key, Ed25519PublicKey | Ed448PublicKey):
        algorithm = "EdDSA"
    else:
        raise ValueError(f"{source}: unsupported key type (RSA, EC P-256, Ed25519 or Ed448)")
    return VerificationKey(algorithm, key, kid, source)


def load_public_keys(
    pem_file: Path | None = None, jwks_file: Path | None = None
) -> tuple[VerificationKey, ...]:
    """The keys of the PEM file (no ``kid``) and of the JWKS file, in that order."""
    keys: list[VerificationKey] = []
    if pem_file is not None:
        keys.append(load_pem_file(pem_file))
    if jwks_file is not None:
        keys.extend(load_jwks_file(jwks_file))
    return tuple(keys)


def load_pem_file(path: Path, *, kid: str | None = None) -> VerificationKey:
    """The one public key (``PUBLIC KEY`` or ``CERTIFICATE`` block) of a PEM file."""
    data = _read(path)
    blocks = data.count(b"-----BEGIN ")
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(f"{path}: holds a private key; give pm the public key only")
    if blocks != 1:
        raise KeyFileError(
            f"{path}: holds {blocks} PEM blocks; expected one public key or certificate "
            "(use a JWKS file for several keys)"
        )
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a PEM public key or certificate") from exc
    try:
        return public_key(key, kid=kid, source=f"PEM {path}")
    except ValueError as exc:
        raise KeyFileError(str(exc)) from None


def load_jwks_file(path: Path) -> tuple[VerificationKey, ...]:
    """The usable signature keys of a JWKS file (at least one)."""
    return parse_jwks(_read(path), str(path))


def parse_jwks(data: bytes, origin: str) -> tuple[VerificationKey, ...]:
    """The usable signature keys of a JWKS document (at least one); ``origin`` names it
    (a file or a URL) in errors and in each key's ``source``."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{origin}: not valid JSON") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(f'{origin}: a JWKS document is an object with a "keys" list')
    keys = [
        key
        for index, entry in enumerate(entries)
        if (key := _jwk(entry, f"JWKS {origin} #{index}")) is not None
    ]
    if not keys:
        raise KeyFileError(f"{origin}: no usable signature key (RSA, EC P-256, Ed25519, Ed448)")
    check_unique_kids(keys)
    return tuple(keys)


def check_unique_kids(keys: Iterable[VerificationKey]) -> None:
    """ValueError if two keys share a ``kid`` (a token could not name one of them)."""
    seen: dict[str, str] = {}
    for key in keys:
        if key.kid is None:
            continue
        if key.kid in seen:
            raise KeyFileError(f"{key.source}: kid already used by {seen[key.kid]}")
        seen[key.kid] = key.source


def _jwk(entry: object, source: str) -> VerificationKey | None:
    """The key of one JWKS entry; None (logged) for a kind pm does not verify."""
    if not isinstance(entry, dict):
        raise KeyFileError(f"{source}: not a JSON object")
    if _PRIVATE_JWK_MEMBERS & entry.keys() or entry.get("kty") == "oct":
        raise KeyFileError(f"{source}: holds private or secret key material; publish public keys")
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        raise KeyFileError(f"{source}: kid must be a non-empty string")
    algorithm, skip = _jwk_algorithm(entry)
    if algorithm is None:
        log.warning("%s (kid %r) skipped: %s", source, kid, skip)
        return None
    try:
        key = jwt.PyJWK(entry, algorithm=algorithm).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise KeyFileError(f"{source}: malformed {entry['kty']} key") from exc
    try:
        return public_key(key, kid=kid, source=source)
    except ValueError as exc:
        raise KeyFileError(str(exc)) from None


def _jwk_algorithm(entry: dict[str, Any]) -> tuple[Algorithm | None, str]:
    """The algorithm an entry's type verifies, or None and why it is skipped."""
    kty, crv = entry.get("kty"), entry.get("crv")
    algorithm: Algorithm
    if kty == "RSA":
        algorithm = "RS256"
    elif kty == "EC" and crv == "P-256":
        algorithm = "ES256"
    elif kty == "OKP" and crv in ("Ed25519", "Ed448"):
        algorithm = "EdDSA"
    else:
        return None, "unsupported key type or curve"
    if entry.get("use", "sig") != "sig":
        return None, "not a signature key (use)"
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None, "not a verification key (key_ops)"
    declared = entry.get("alg")
    if declared is not None and declared != algorithm:
        return None, f"declares another algorithm than {algorithm}"
    return algorithm, ""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
