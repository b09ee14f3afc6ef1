"""Bearer tokens: who the caller is and which tenant they belong to.

Tokens are JWTs. The tenant and the user come from the verified claims only:

- ``sub``: the user id (1-64 characters);
- ``tenant``: the tenant id, which must pass the tenant-id rule;
- ``name`` / ``email``: optional profile, used to provision the user row;
- ``roles``: optional list; ``"tenant_admin"`` grants every project permission.

An outside identity provider may name the tenant, roles, name and email claims
otherwise (:class:`ClaimNames`, e.g. ``https://pm.example.com/tenant`` or
``realm_access.roles``); the names apply to tokens verified with its public keys,
while tokens signed with pm's own HS256 key always use the names above.

``exp`` is required; ``iss`` and ``aud`` are checked when configured (a token that
carries an ``aud`` is refused unless an audience is configured and listed in it, as
RFC 7519 4.1.3 asks); ``nbf`` and ``iat`` are honoured when present, all within a
small leeway.

:class:`AuthConfig` says which algorithms and keys are accepted: HS256 with the
development key that ``pm serve`` generates on first start (see
:func:`load_or_create_signing_key`), and RS256, ES256 and EdDSA with public keys
from a PEM or JWKS file (:mod:`pm_auth.keys`) or a JWKS URL (:mod:`pm_auth.jwks`,
fetched again on an unknown ``kid``: see :meth:`TokenVerifier.verify_current`). The
key is chosen by the token's ``kid`` (an unknown ``kid`` is refused) or, without
one, by being the only key of the token's algorithm. The algorithm is the key's
own: an HMAC secret verifies HS256 only, an RSA key RS256 only, an EC P-256 key
ES256 only, an Ed25519 (or Ed448) key EdDSA only, so ``alg: none`` and
HS256-signed-with-a-public-key are refused.

Every refusal is an :class:`UnauthenticatedError` whose message says why, never
with key material or token content in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt
from jwt.exceptions import InvalidSubjectError

from pm_auth.jwks import RemoteJwks
from pm_auth.keys import ALGORITHMS, VerificationKey, check_unique_kids, hmac_key
from pm_core.enums import UserKind
from pm_core.errors import UnauthenticatedError
from pm_core.tenancy import is_valid_tenant_id

ALGORITHM: Final = "HS256"
TENANT_CLAIM: Final = "tenant"
TENANT_ADMIN_ROLE: Final = "tenant_admin"
KEY_FILE_NAME: Final = "signing-key"
DEFAULT_LIFETIME: Final = timedelta(hours=24)
DEFAULT_LEEWAY: Final = timedelta(seconds=30)
MAX_LEEWAY: Final = timedelta(minutes=5)
_MAX_EXP: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant datetime holds
_MAX_USER_ID: Final = 64
_MAX_PROFILE: Final = 200


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Where a token carries the tenant, roles, name and email.

    A name is looked up as a top-level claim first; if there is none and the name
    holds dots, as a path into nested objects (``realm_access.roles``). So a
    namespaced claim such as ``https://pm.example.com/tenant`` works as is.
    Roles are a list of strings or one space-separated string.
    """

    tenant: str = TENANT_CLAIM
    roles: str = "roles"
    name: str = "name"
    email: str = "email"

    def __post_init__(self) -> None:
        for value in (self.tenant, self.roles, self.name, self.email):
            if not value or not value.strip() or len(value) > _MAX_PROFILE:
                raise ValueError("a claim name must be 1-200 non-blank characters")

    @staticmethod
    def lookup(claims: dict[str, Any], name: str) -> object:
        """The claim ``name`` (top level first, then as a dotted path), or None."""
        if name in claims:
            return claims[name]
        value: object = claims
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value


#: The names of pm's own tokens (and of an outside provider's unless configured).
DEFAULT_CLAIMS: Final = ClaimNames()


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller."""

    tenant_id: str
    user_id: str
    display_name: str
    email: str | None
    is_tenant_admin: bool
    expires_at: datetime
    #: A person, or the agent user an API key acts as.
    kind: UserKind = UserKind.HUMAN
    #: The API key the caller connected with (its id), if it did: revoking the key
    #: closes the connections that carry it.
    api_key_id: str | None = None


def load_or_create_signing_key(data_dir: Path) -> bytes:
    """The development HS256 key in ``<data_dir>/signing-key``, created (mode 0600) if absent.

    The file appears complete or not at all: the key is written to a temporary
    file, synced, then linked into place (``link`` fails if another process
    got there first, whose key is then used). A file that does not hold a
    32-byte hex key is refused with ValueError rather than used.
    """
    path = data_dir / KEY_FILE_NAME
    try:
        return _read_signing_key(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_bytes(32).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_signing_key(path)


def _read_signing_key(path: Path) -> bytes:
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 32-byte hex key; remove it to get a new one")
    return key


def mint_token(
    key: bytes,
    *,
    tenant_id: str,
    user_id: str,
    name: str | None = None,
    email: str | None = None,
    tenant_admin: bool = False,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    kind: str | None = None,
) -> str:
    """A signed token: a development one (``pm token``) or a session's access token.

    ``iss``/``aud`` for a server that checks them; ``kind`` (``human``/``agent``)
    as sign-in issues it.
    """
    if not is_valid_tenant_id(tenant_id):
        raise ValueError("tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        TENANT_CLAIM: tenant_id,
        "iat": issued,
        "exp": issued + lifetime,
    }
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if tenant_admin:
        claims["roles"] = [TENANT_ADMIN_ROLE]
    if kind:
        claims["kind"] = kind
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, key, algorithm=ALGORITHM)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Which tokens a :class:`TokenVerifier` accepts."""

    #: Algorithms accepted at all; a key of another algorithm is never used.
    algorithms: frozenset[str] = frozenset(ALGORITHMS)
    #: The HS256 secret (the data dir's development key), if HS256 tokens are accepted.
    hs256_secret: bytes | None = field(default=None, repr=False)
    #: Public keys (:func:`pm_auth.keys.load_public_keys`).
    public_keys: tuple[VerificationKey, ...] = ()
    #: Required ``iss`` value, if any.
    issuer: str | None = None
    #: Required member of ``aud``, if any.
    audience: str | None = None
    #: Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (0 to 5 minutes).
    leeway: timedelta = DEFAULT_LEEWAY
    #: Claim names of tokens verified with a public key (an outside provider).
    claims: ClaimNames = DEFAULT_CLAIMS

    def __post_init__(self) -> None:
        unknown = self.algorithms - set(ALGORITHMS)
        if unknown or not self.algorithms:
            raise ValueError(f"algorithms must be a non-empty subset of {', '.join(ALGORITHMS)}")
        if not timedelta(0) <= self.leeway <= MAX_LEEWAY:
            raise ValueError("leeway must be between 0 and 5 minutes")
        if self.issuer == "" or self.audience == "":
            raise ValueError("issuer and audience must be None or non-empty")
        if self.hs256_secret is not None:
            hmac_key(self.hs256_secret)  # raises if too short

    def keys(self) -> tuple[VerificationKey, ...]:
        """The keys in use: each configured key whose algorithm is accepted."""
        keys: list[VerificationKey] = []
        if self.hs256_secret is not None:
            keys.append(hmac_key(self.hs256_secret))
        keys.extend(self.public_keys)
        return tuple(key for key in keys if key.algorithm in self.algorithms)


class TokenVerifier:
    """Checks tokens against an :class:`AuthConfig`.

    ``TokenVerifier(key_bytes)`` is the development form: HS256 with that key only.
    With ``remote``, the keys of a JWKS URL are used besides the configured ones
    (a remote key whose ``kid`` a configured key already has is ignored).
    """

    def __init__(
        self,
        config: AuthConfig | bytes,
        *,
        leeway: timedelta = DEFAULT_LEEWAY,
        remote: RemoteJwks | None = None,
    ) -> None:
        if isinstance(config, bytes):
            config = AuthConfig(frozenset({ALGORITHM}), hs256_secret=config, leeway=leeway)
        keys = config.keys()
        if not keys and remote is None:
            raise ValueError(
                "no verification key: configure a public key file, a JWKS file or URL, or the "
                "dev key for one of the accepted algorithms"
            )
        check_unique_kids(keys)
        self._config = config
        self._static = keys
        self._remote = remote
        self._remote_seen: tuple[VerificationKey, ...] = ()
        self._refreshing: asyncio.Lock | None = None
        #: Fetches this verifier has finished, counted on the event loop: a caller that saw
        #: n and failed to verify waits for the fetch under way, if any, and fetches only if
        #: none finished since (the remote's own count moves in the worker thread).
        self._fetches = 0
        self._keys = keys
        self._by_kid = {key.kid: key for key in keys if key.kid is not None}

    @property
    def remote(self) -> RemoteJwks | None:
        return self._remote

    def summary(self) -> str:
        """The keys in use, for the startup log (sources and kids, never key material)."""
        parts = [
            f"{key.algorithm} {key.source}" + (f" (kid {key.kid})" if key.kid else "")
            for key in self._static
        ]
        if self._remote is not None:
            parts.append(f"JWKS {self._remote.url}")
        return "; ".join(parts)

    async def verify_current(self, token: str) -> Principal:
        """:meth:`verify` with the JWKS URL's keys kept current: fetched (in a worker
        thread) when the copy is stale, and again when the token names a key the copy
        lacks (at most once per the remote's ``min_refetch``)."""
        remote = self._remote
        if remote is None:
            return self.verify(token)
        if remote.stale():
            await self._refresh(remote, self._fetches)
        fetches = self._fetches
        try:
            return self.verify(token)
        except _UnknownKeyError:
            if not remote.may_refetch():
                raise
        await self._refresh(remote, fetches)
        return self.verify(token)

    async def _refresh(self, remote: RemoteJwks, seen_fetches: int) -> None:
        """One fetch for all callers waiting at once: a caller that finds a fetch finished
        since it looked (``seen_fetches``) uses its result."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if self._fetches == seen_fetches:
                try:
                    await asyncio.to_thread(remote.refresh)
                finally:
                    self._fetches += 1

    def _current_keys(self) -> tuple[VerificationKey, ...]:
        """The configured keys then the remote's, the lookup by kid rebuilt when it changed."""
        remote = self._remote
        if remote is None or remote.cached() is self._remote_seen:
            return self._keys
        fetched = remote.cached()
        usable = [k for k in fetched if k.algorithm in self._config.algorithms]
        by_kid = {key.kid: key for key in self._static if key.kid is not None}
        added = []
        for key in usable:
            if key.kid is not None and key.kid in by_kid:
                continue  # a configured key keeps its kid
            if key.kid is not None:
                by_kid[key.kid] = key
            added.append(key)
        self._keys = (*self._static, *added)
        self._by_kid = by_kid
        self._remote_seen = fetched
        return self._keys

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; anything else raises UnauthenticatedError."""
        key = self._key_for(token)
        config = self._config
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=config.issuer,
                audience=config.audience,
                leeway=config.leeway,
                options={
                    "require": ["exp", "sub"],
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthenticatedError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token: {_reason(exc)}") from exc
        # pm's own key signs with pm's names; an outside provider's keys use the configured ones.
        return _principal(claims, DEFAULT_CLAIMS if key.algorithm == ALGORITHM else config.claims)

    def _key_for(self, token: str) -> VerificationKey:
        """The one key that may verify ``token``, chosen from its header.

        The header is not trusted: it only selects among configured keys, and its
        ``alg`` must be both accepted and the selected key's own algorithm.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise UnauthenticatedError("invalid token: malformed") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._config.algorithms:
            raise UnauthenticatedError("invalid token: algorithm not allowed")
        keys = self._current_keys()
        kid = header.get("kid")
        if kid is not None:
            key = self._by_kid.get(kid)
            if key is None:
                raise _UnknownKeyError("invalid token: unknown key id")
            if key.algorithm != alg:
                raise UnauthenticatedError("invalid token: algorithm does not match the key")
            return key
        candidates = [key for key in keys if key.algorithm == alg]
        if not candidates:
            raise _UnknownKeyError("invalid token: no key for its algorithm")
        if len(candidates) > 1:
            raise UnauthenticatedError("invalid token: no key id and several keys could match")
        return candidates[0]


class _UnknownKeyError(UnauthenticatedError):
    """No configured key may verify the token: with a JWKS URL, worth one refetch."""


def _reason(exc: jwt.PyJWTError) -> str:
    """A fixed phrase per failure: PyJWT's own messages may quote the token."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"  # one of the names pm requires
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not yet valid"
    if isinstance(exc, jwt.InvalidIssuedAtError):
        return "iat must be a number"
    if isinstance(exc, InvalidSubjectError):
        return "sub must be a string"
    if isinstance(exc, jwt.DecodeError):
        return "malformed"
    return "rejected"


def _principal(claims: dict[str, Any], names: ClaimNames) -> Principal:
    tenant_id = names.lookup(claims, names.tenant)
    if tenant_id is None:
        raise UnauthenticatedError(f"invalid token: missing claim {names.tenant}")
    if not isinstance(tenant_id, str) or not is_valid_tenant_id(tenant_id):
        raise UnauthenticatedError("invalid token: tenant claim is not a valid tenant id")
    user_id = claims["sub"]
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= _MAX_USER_ID:
        raise UnauthenticatedError("invalid token: sub must be a string of 1-64 characters")
    if not user_id.isprintable():
        raise UnauthenticatedError("invalid token: sub must be printable")
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not 0 < exp <= _MAX_EXP:
        raise UnauthenticatedError("invalid token: exp must be a NumericDate")
    name = _profile(names.lookup(claims, names.name)) or user_id
    roles = names.lookup(claims, names.roles)
    if isinstance(roles, str):
        roles = roles.split()
    return Principal(
        tenant_id=tenant_id,
        user_id=user_id,
        display_name=name,
        email=_profile(names.lookup(claims, names.email)),
        is_tenant_admin=isinstance(roles, list) and TENANT_ADMIN_ROLE in roles,
        expires_at=datetime.fromtimestamp(int(exp), UTC),
    )


def _profile(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.strip()
    if not cleaned or len(cleaned) > _MAX_PROFILE or not cleaned.isprintable():
        return None
    return cleaned
