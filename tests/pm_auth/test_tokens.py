"""TokenVerifier: each algorithm accepted with its key, every forgery refused with a reason."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pm_auth.keys import VerificationKey
from pm_auth.tokens import AuthConfig, TokenVerifier, mint_token
from pm_core.errors import UnauthenticatedError
from tests.pm_auth.signing import (
    ALL,
    ASYMMETRIC,
    AUDIENCE,
    ISSUER,
    KeyRing,
    Signer,
    b64,
    claims,
    craft,
)


def production_config(ring: KeyRing, **overrides: Any) -> AuthConfig:
    """Every algorithm, the dev key, one public key per type (with kids), iss and aud."""
    options: dict[str, Any] = {
        "hs256_secret": ring.right["HS256"].private,
        "public_keys": tuple(ring.right[a].verification_key for a in ASYMMETRIC),
        "issuer": ISSUER,
        "audience": AUDIENCE,
    }
    options.update(overrides)
    return AuthConfig(**options)


def refused(verifier: TokenVerifier, token: str) -> str:
    """The refusal message, checked to echo no part of the token."""
    with pytest.raises(UnauthenticatedError) as info:
        verifier.verify(token)
    message = info.value.message
    for segment in token.split("."):
        if len(segment) >= 4:
            assert segment not in message
    return message


# --- accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALL)
def test_verify_with_the_right_key_returns_the_principal(ring: KeyRing, algorithm: str) -> None:
    exp = int(time.time()) + 600
    token = ring.right[algorithm].sign(claims(exp=exp))

    principal = TokenVerifier(production_config(ring)).verify(token)

    assert principal.tenant_id == "acme"
    assert principal.user_id == "alice"
    assert principal.display_name == "Alice"
    assert principal.email == "alice@example.test"
    assert principal.is_tenant_admin
    assert principal.expires_at == datetime.fromtimestamp(exp, UTC)


@pytest.mark.parametrize("algorithm", ALL)
def test_verify_token_expired_within_the_leeway_is_accepted(ring: KeyRing, algorithm: str) -> None:
    token = ring.right[algorithm].sign(claims(exp=int(time.time()) - 5))
    assert TokenVerifier(production_config(ring)).verify(token).user_id == "alice"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_verify_token_without_kid_uses_the_only_key_of_its_type(
    ring: KeyRing, algorithm: str
) -> None:
    token = ring.right[algorithm].sign(claims(), headers={})
    assert TokenVerifier(production_config(ring)).verify(token).tenant_id == "acme"


@pytest.mark.parametrize("algorithm", ALL)
def test_verify_without_optional_claims_defaults_profile_and_role(
    ring: KeyRing, algorithm: str
) -> None:
    token = ring.right[algorithm].sign(claims(name=None, email=None, roles=None))
    principal = TokenVerifier(production_config(ring)).verify(token)
    assert (principal.display_name, principal.email, principal.is_tenant_admin) == (
        "alice",
        None,
        False,
    )


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_verify_without_issuer_and_audience_configured_skips_iss(
    ring: KeyRing, algorithm: str
) -> None:
    verifier = TokenVerifier(production_config(ring, issuer=None, audience=None))
    token = ring.right[algorithm].sign(claims(iss="https://anyone.test/", aud=None))
    assert verifier.verify(token).user_id == "alice"


@pytest.mark.parametrize("algorithm", ALL)
def test_verify_token_with_aud_is_refused_when_no_audience_is_configured(
    ring: KeyRing, algorithm: str
) -> None:
    verifier = TokenVerifier(production_config(ring, audience=None))
    token = ring.right[algorithm].sign(claims(aud="another-service"))
    assert "wrong audience" in refused(verifier, token)


# --- refused: one table, every algorithm ------------------------------------------------

Forge = Callable[[KeyRing, Signer], str]


def _alg_none(ring: KeyRing, signer: Signer) -> str:
    return craft({"alg": "none", "typ": "JWT"}, claims())


def _alg_none_with_kid(ring: KeyRing, signer: Signer) -> str:
    return craft({"alg": "none", **({"kid": signer.kid} if signer.kid else {})}, claims())


def _tampered(ring: KeyRing, signer: Signer) -> str:
    header, _, signature = signer.sign(claims(sub="alice")).split(".")
    return ".".join([header, b64(json.dumps(claims(sub="root")).encode()), signature])


def _no_signature(ring: KeyRing, signer: Signer) -> str:
    return signer.sign(claims()).rsplit(".", 1)[0] + "."


def _with_tenant(tenant: object) -> Forge:
    return lambda ring, signer: signer.sign(claims(tenant=tenant))


REFUSALS: list[tuple[str, Forge, str]] = [
    ("wrong key", lambda r, s: r.wrong[s.algorithm].sign(claims()), "bad signature"),
    (
        "wrong kid",
        lambda r, s: s.sign(claims(), headers={"kid": "no-such-kid"}),
        "unknown key id",
    ),
    ("alg none", _alg_none, "algorithm not allowed"),
    ("alg none naming the key", _alg_none_with_kid, "algorithm not allowed"),
    ("tampered payload", _tampered, "bad signature"),
    ("signature stripped", _no_signature, "bad signature"),
    (
        "expired",
        lambda r, s: s.sign(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "token expired",
    ),
    (
        "expired beyond the leeway",
        lambda r, s: s.sign(claims(exp=int(time.time()) - 120)),
        "token expired",
    ),
    (
        "not yet valid",
        lambda r, s: s.sign(claims(nbf=int(time.time()) + 3600)),
        "not yet valid",
    ),
    ("wrong iss", lambda r, s: s.sign(claims(iss="https://evil.test/")), "wrong issuer"),
    ("missing iss", lambda r, s: s.sign(claims(iss=None)), "missing claim iss"),
    ("wrong aud", lambda r, s: s.sign(claims(aud="someone-else")), "wrong audience"),
    ("wrong aud list", lambda r, s: s.sign(claims(aud=["a", "b"])), "wrong audience"),
    ("missing aud", lambda r, s: s.sign(claims(aud=None)), "missing claim aud"),
    ("missing exp", lambda r, s: s.sign(claims(exp=None)), "missing claim exp"),
    ("exp not a number", lambda r, s: s.sign(claims(exp="soon")), "malformed"),
    (
        "exp as a numeric string",
        lambda r, s: s.sign(claims(exp=str(int(time.time()) + 600))),
        "exp must be a NumericDate",
    ),
    ("exp beyond year 9999", lambda r, s: s.sign(claims(exp=10**15)), "NumericDate"),
    ("missing sub", lambda r, s: s.sign(claims(sub=None)), "missing claim sub"),
    ("sub not a string", lambda r, s: s.sign(claims(sub=42)), "sub must be a string"),
    ("sub too long", lambda r, s: s.sign(claims(sub="u" * 65)), "1-64 characters"),
    ("missing tenant", lambda r, s: s.sign(claims(tenant=None)), "missing claim tenant"),
    *[
        (
            f"hostile tenant {tenant!r}",
            _with_tenant(tenant),
            "tenant claim is not a valid tenant id",
        )
        for tenant in ["../x", "A", "a" * 64, "a\x00b", "\x00", "acme\n", "", 7, ["acme"]]
    ],
    ("not a JWT", lambda r, s: "not-a-token", "malformed"),
    ("kid not a string", lambda r, s: craft({"alg": s.algorithm, "kid": 5}, claims()), "malformed"),
]


@pytest.mark.parametrize("algorithm", ALL)
@pytest.mark.parametrize(("case", "forge", "reason"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_verify_refuses_forged_or_invalid_token(
    ring: KeyRing, algorithm: str, case: str, forge: Forge, reason: str
) -> None:
    verifier = TokenVerifier(production_config(ring))
    token = forge(ring, ring.right[algorithm])

    message = refused(verifier, token)

    assert reason in message
    assert "no-such-kid" not in message
    assert "../x" not in message


# --- refused: algorithm confusion -------------------------------------------------------


def _hs256_with_secret(secret: bytes, header: dict[str, Any]) -> str:
    """An HS256 token whose HMAC key is ``secret`` (PyJWT refuses to sign with a PEM)."""
    unsigned = craft(header, claims()).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    return f"{unsigned}.{b64(signature)}"


CONFUSIONS: list[tuple[str, Callable[[KeyRing, str], AuthConfig], bool, str]] = [
    # (config, token names the public key's kid, expected reason)
    ("dev key also accepted", lambda r, a: production_config(r), False, "bad signature"),
    (
        "dev key also accepted, kid of the public key",
        lambda r, a: production_config(r),
        True,
        "algorithm does not match the key",
    ),
    (
        "HS256 accepted without a secret",
        lambda r, a: production_config(r, hs256_secret=None),
        False,
        "no key for its algorithm",
    ),
    (
        "only the public key's algorithm accepted",
        lambda r, a: production_config(r, hs256_secret=None, algorithms=frozenset({a})),
        True,
        "algorithm not allowed",
    ),
]


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
@pytest.mark.parametrize(
    ("case", "config", "with_kid", "reason"), CONFUSIONS, ids=[c[0] for c in CONFUSIONS]
)
def test_verify_refuses_hs256_signed_with_the_public_key_pem(
    ring: KeyRing,
    algorithm: str,
    case: str,
    config: Callable[[KeyRing, str], AuthConfig],
    with_kid: bool,
    reason: str,
) -> None:
    signer = ring.right[algorithm]
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if with_kid:
        header["kid"] = signer.kid
    token = _hs256_with_secret(signer.public_pem, header)

    message = refused(TokenVerifier(config(ring, algorithm)), token)

    assert reason in message


@pytest.mark.parametrize(
    ("key_alg", "header_alg"), [(k, h) for k in ASYMMETRIC for h in ALL if k != h]
)
def test_verify_refuses_header_alg_other_than_the_named_keys(
    ring: KeyRing, key_alg: str, header_alg: str
) -> None:
    token = craft({"alg": header_alg, "kid": ring.right[key_alg].kid}, claims(), b"x" * 64)

    message = refused(TokenVerifier(production_config(ring)), token)

    assert "algorithm does not match the key" in message


# --- choosing keys ----------------------------------------------------------------------


def test_verify_token_without_kid_is_refused_when_several_keys_of_its_type(ring: KeyRing) -> None:
    config = production_config(
        ring,
        public_keys=(
            ring.right["RS256"].verification_key,
            ring.second_rsa.verification_key,
        ),
    )
    token = ring.right["RS256"].sign(claims(), headers={})

    assert "several keys could match" in refused(TokenVerifier(config), token)


def test_verify_with_dev_key_disabled_refuses_dev_tokens(ring: KeyRing) -> None:
    verifier = TokenVerifier(production_config(ring, hs256_secret=None))
    token = mint_token(ring.right["HS256"].private, tenant_id="acme", user_id="alice")

    assert "no key for its algorithm" in refused(verifier, token)


def test_verify_accepts_dev_token_from_mint_token(ring: KeyRing) -> None:
    secret = ring.right["HS256"].private
    token = mint_token(secret, tenant_id="acme", user_id="bob", tenant_admin=True)

    principal = TokenVerifier(AuthConfig(hs256_secret=secret)).verify(token)

    assert (principal.tenant_id, principal.user_id, principal.is_tenant_admin) == (
        "acme",
        "bob",
        True,
    )


def test_dev_token_minted_with_issuer_and_audience_passes_their_checks(ring: KeyRing) -> None:
    secret = ring.right["HS256"].private
    verifier = TokenVerifier(production_config(ring))
    plain = mint_token(secret, tenant_id="acme", user_id="al")
    named = mint_token(secret, tenant_id="acme", user_id="al", issuer=ISSUER, audience=AUDIENCE)

    assert "missing claim iss" in refused(verifier, plain)
    assert verifier.verify(named).user_id == "al"


def test_verifier_from_key_bytes_verifies_hs256_only(ring: KeyRing) -> None:
    secret = ring.right["HS256"].private
    verifier = TokenVerifier(secret)

    assert verifier.verify(mint_token(secret, tenant_id="acme", user_id="al")).user_id == "al"
    assert "algorithm not allowed" in refused(verifier, ring.right["RS256"].sign(claims()))


def test_verifier_from_key_bytes_honours_its_leeway(ring: KeyRing) -> None:
    secret = ring.right["HS256"].private
    token = mint_token(secret, tenant_id="acme", user_id="al", lifetime=timedelta(seconds=-60))

    assert TokenVerifier(secret, leeway=timedelta(minutes=5)).verify(token).user_id == "al"
    assert refused(TokenVerifier(secret), token) == "token expired"


# --- configuration errors ---------------------------------------------------------------

BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("alg none", {"algorithms": frozenset({"none"})}, "subset"),
    ("HS512", {"algorithms": frozenset({"HS256", "HS512"})}, "subset"),
    ("no algorithm", {"algorithms": frozenset()}, "subset"),
    ("long leeway", {"leeway": timedelta(minutes=10)}, "leeway"),
    ("negative leeway", {"leeway": timedelta(seconds=-1)}, "leeway"),
    ("short secret", {"hs256_secret": b"s" * 31}, "32 bytes"),
    ("empty issuer", {"issuer": ""}, "non-empty"),
    ("empty audience", {"audience": ""}, "non-empty"),
]


@pytest.mark.parametrize(
    ("case", "options", "reason"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_auth_config_refuses_unsafe_settings(
    case: str, options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        AuthConfig(**options)


def test_verifier_without_a_usable_key_refuses_to_start(ring: KeyRing) -> None:
    config = AuthConfig(
        algorithms=frozenset({"ES256"}),
        hs256_secret=ring.right["HS256"].private,
        public_keys=(ring.right["RS256"].verification_key,),
    )
    with pytest.raises(ValueError, match="no verification key"):
        TokenVerifier(config)


def test_verifier_with_duplicate_kid_refuses_to_start(ring: KeyRing) -> None:
    first = ring.right["RS256"].verification_key
    clash = VerificationKey("ES256", ring.right["ES256"].verification_key.key, first.kid, "b")
    with pytest.raises(ValueError, match="kid already used"):
        TokenVerifier(AuthConfig(public_keys=(first, clash)))


def test_config_repr_and_summary_hold_no_secret(ring: KeyRing) -> None:
    secret: bytes = ring.right["HS256"].private
    config = production_config(ring)
    text = repr(config) + TokenVerifier(config).summary() + repr(config.keys())

    assert secret.hex() not in text
    assert repr(secret) not in text
    assert "rs256-1" in TokenVerifier(config).summary()
