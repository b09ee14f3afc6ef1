"""Keys from a JWKS URL: fetched, cached, refetched on an unknown kid (rotation), bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from pm_auth.jwks import MAX_JWKS_BYTES, JwksFetchError, RemoteJwks, check_jwks_url, fetch_jwks
from pm_auth.tokens import AuthConfig, ClaimNames, TokenVerifier
from pm_core.errors import UnauthenticatedError
from tests.pm_auth.jwks_server import JwksEndpoint, serve_jwks
from tests.pm_auth.signing import AUDIENCE, ISSUER, KeyRing, claims


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[JwksEndpoint]:
    with serve_jwks() as served:
        yield served


def remote_verifier(
    endpoint: JwksEndpoint, clock: Clock, *, claim_names: ClaimNames | None = None, **kw: Any
) -> TokenVerifier:
    # A generous fetch timeout: on a loaded machine a timed-out fetch would add a refetch.
    remote = RemoteJwks(endpoint.url, clock=clock, timeout=60, **kw)
    config = AuthConfig(issuer=ISSUER, audience=AUDIENCE, claims=claim_names or ClaimNames())
    return TokenVerifier(config, remote=remote)


# --- fetching -----------------------------------------------------------------------------


def test_fetch_jwks_binds_each_published_key_to_its_kid(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk(), ring.right["ES256"].jwk())
    keys = fetch_jwks(endpoint.url)
    assert [(k.kid, k.algorithm) for k in keys] == [("rs256-1", "RS256"), ("es256-1", "ES256")]
    assert keys[0].source.startswith(f"JWKS {endpoint.url}")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 500}, "HTTP 500"),
        ({"status": 302, "headers": {"Location": "http://127.0.0.1:1/elsewhere"}}, "HTTP 302"),
        ({"body": b"<html>"}, "not valid JSON"),
        ({"body": b'{"keys": 1}'}, '"keys" list'),
        ({"body": b" " * (MAX_JWKS_BYTES + 1)}, "larger than"),
    ],
)
def test_fetch_jwks_refuses_what_is_not_a_usable_jwks(
    endpoint: JwksEndpoint, answer: dict[str, Any], reason: str
) -> None:
    for name, value in answer.items():
        setattr(endpoint, name, value)
    with pytest.raises(JwksFetchError, match=reason):
        fetch_jwks(endpoint.url)


def test_fetch_jwks_refuses_private_key_material(ring: KeyRing, endpoint: JwksEndpoint) -> None:
    entry = ring.right["RS256"].jwk()
    entry["d"] = "AQAB"
    endpoint.publish(entry)
    with pytest.raises(JwksFetchError, match="private or secret key material"):
        fetch_jwks(endpoint.url)


def test_fetch_jwks_from_a_closed_port_names_the_url() -> None:
    url = "http://127.0.0.1:9/jwks.json"
    with pytest.raises(JwksFetchError, match="cannot fetch"):
        fetch_jwks(url, timeout=2)


@pytest.mark.parametrize(
    "url",
    ["http://idp.example.com/jwks.json", "ftp://127.0.0.1/jwks", "https:///jwks", "jwks.json"],
)
def test_jwks_url_must_be_https_or_loopback_http(url: str) -> None:
    with pytest.raises(ValueError, match="JWKS URL"):
        check_jwks_url(url)


@pytest.mark.parametrize(
    "url", ["https://idp.example.com/jwks.json", "http://localhost:8080/j", "http://[::1]/j"]
)
def test_jwks_url_accepts_https_and_loopback_http(url: str) -> None:
    assert check_jwks_url(url) == url


# --- the cache ------------------------------------------------------------------------------


def test_failed_refresh_keeps_the_last_good_keys(
    ring: KeyRing, endpoint: JwksEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    remote = RemoteJwks(endpoint.url, clock=Clock())
    assert remote.refresh()
    endpoint.status = 503
    with caplog.at_level(logging.WARNING, logger="pm_auth.jwks"):
        assert not remote.refresh()
    assert [k.kid for k in remote.cached()] == ["rs256-1"]
    assert "keeping 1 cached keys" in caplog.text


async def test_verifier_fetches_the_keys_on_first_use(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    verifier = remote_verifier(endpoint, Clock())
    principal = await verifier.verify_current(ring.right["RS256"].sign(claims()))
    assert (principal.tenant_id, principal.user_id) == ("acme", "alice")
    assert endpoint.fetches == 1
    await verifier.verify_current(ring.right["RS256"].sign(claims(sub="bob")))
    assert endpoint.fetches == 1  # cached


async def test_rotation_a_new_kid_is_fetched_and_then_accepted(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    old, new = ring.right["RS256"], ring.second_rsa
    endpoint.publish(old.jwk())
    clock = Clock()
    verifier = remote_verifier(endpoint, clock)
    await verifier.verify_current(old.sign(claims()))
    clock.now += 60  # the provider rotates: publishes the new key, then signs with it
    endpoint.publish(old.jwk(), new.jwk())
    principal = await verifier.verify_current(new.sign(claims(sub="bob")))
    assert principal.user_id == "bob"
    assert endpoint.fetches == 2
    await verifier.verify_current(old.sign(claims()))  # both keys are now known
    assert endpoint.fetches == 2


async def test_unknown_kid_refetches_at_most_once_per_interval(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    clock = Clock()
    verifier = remote_verifier(endpoint, clock, min_refetch=timedelta(seconds=10))
    await verifier.verify_current(ring.right["RS256"].sign(claims()))
    stranger = ring.second_rsa  # never published
    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        await verifier.verify_current(stranger.sign(claims()))
    assert endpoint.fetches == 1  # the first fetch was less than 10 s ago
    clock.now += 10
    for _ in range(5):
        with pytest.raises(UnauthenticatedError, match="unknown key id"):
            await verifier.verify_current(stranger.sign(claims()))
    assert endpoint.fetches == 2


async def test_concurrent_tokens_with_a_new_kid_share_one_fetch(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    clock = Clock()
    verifier = remote_verifier(endpoint, clock, min_refetch=timedelta(0))
    await verifier.verify_current(ring.right["RS256"].sign(claims()))
    fetched = endpoint.fetches
    endpoint.publish(ring.right["RS256"].jwk(), ring.second_rsa.jwk())
    # A slow provider: the first fetch is still in flight when the other tokens are checked
    # (against the old keys), and they must wait for it, not fetch again once it is done.
    endpoint.delay = 0.3
    tokens = [ring.second_rsa.sign(claims(sub=f"user-{i}")) for i in range(8)]
    first = asyncio.ensure_future(verifier.verify_current(tokens[0]))
    while endpoint.fetches < fetched + 1:  # the first token's fetch is under way
        await asyncio.sleep(0.01)
    rest = await asyncio.gather(*(verifier.verify_current(t) for t in tokens[1:]))
    principals = [await first, *rest]
    assert [p.user_id for p in principals] == [f"user-{i}" for i in range(8)]
    assert endpoint.fetches == fetched + 1


async def test_a_withdrawn_key_stops_verifying_once_the_copy_is_stale(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk(), ring.second_rsa.jwk())
    clock = Clock()
    verifier = remote_verifier(endpoint, clock, max_age=timedelta(minutes=5))
    token = ring.second_rsa.sign(claims())
    await verifier.verify_current(token)
    endpoint.publish(ring.right["RS256"].jwk())  # the provider withdraws rsa-2
    clock.now += 299
    await verifier.verify_current(token)  # still within the cache's lifetime
    clock.now += 1
    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        await verifier.verify_current(token)


async def test_provider_down_at_first_use_refuses_then_recovers(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.status = 503
    clock = Clock()
    verifier = remote_verifier(endpoint, clock)
    token = ring.right["RS256"].sign(claims())
    with pytest.raises(UnauthenticatedError, match="unknown key id"):
        await verifier.verify_current(token)
    endpoint.publish(ring.right["RS256"].jwk())
    clock.now += 10
    assert (await verifier.verify_current(token)).user_id == "alice"


async def test_a_remote_key_cannot_take_the_kid_of_a_configured_key(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    configured = ring.right["RS256"]
    impostor = ring.wrong["RS256"]  # same kid, another key
    endpoint.publish(impostor.jwk())
    remote = RemoteJwks(endpoint.url, clock=Clock())
    verifier = TokenVerifier(
        AuthConfig(public_keys=(configured.verification_key,), issuer=ISSUER, audience=AUDIENCE),
        remote=remote,
    )
    await verifier.verify_current(configured.sign(claims()))
    with pytest.raises(UnauthenticatedError, match="bad signature"):
        await verifier.verify_current(impostor.sign(claims()))


def test_summary_names_the_url_and_no_key_material(ring: KeyRing, endpoint: JwksEndpoint) -> None:
    verifier = remote_verifier(endpoint, Clock())
    assert verifier.summary() == f"JWKS {endpoint.url}"


# --- claim names ----------------------------------------------------------------------------


async def test_configured_claim_names_read_namespaced_and_nested_claims(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    names = ClaimNames(
        tenant="https://pm.example.com/tenant",
        roles="realm_access.roles",
        name="preferred_username",
        email="mail",
    )
    verifier = remote_verifier(endpoint, Clock(), claim_names=names)
    token = ring.right["RS256"].sign(
        claims(
            tenant=None,
            roles=None,
            name=None,
            email=None,
            **{
                "https://pm.example.com/tenant": "globex",
                "realm_access": {"roles": ["tenant_admin", "other"]},
                "preferred_username": "Ada",
                "mail": "ada@example.test",
            },
        )
    )
    principal = await verifier.verify_current(token)
    assert (principal.tenant_id, principal.display_name, principal.email) == (
        "globex",
        "Ada",
        "ada@example.test",
    )
    assert principal.is_tenant_admin


async def test_roles_as_a_space_separated_string_are_read(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    verifier = remote_verifier(endpoint, Clock(), claim_names=ClaimNames(roles="scope"))
    admin = ring.right["RS256"].sign(claims(roles=None, scope="openid tenant_admin"))
    plain = ring.right["RS256"].sign(claims(roles=None, scope="openid tenant_admins"))
    assert (await verifier.verify_current(admin)).is_tenant_admin
    assert not (await verifier.verify_current(plain)).is_tenant_admin


async def test_a_token_without_the_configured_tenant_claim_is_refused_naming_it(
    ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    endpoint.publish(ring.right["RS256"].jwk())
    verifier = remote_verifier(endpoint, Clock(), claim_names=ClaimNames(tenant="org"))
    with pytest.raises(UnauthenticatedError, match="missing claim org"):
        await verifier.verify_current(ring.right["RS256"].sign(claims()))  # has "tenant" only
    with pytest.raises(UnauthenticatedError, match="not a valid tenant id"):
        await verifier.verify_current(ring.right["RS256"].sign(claims(org={"id": "acme"})))


def test_pm_own_tokens_keep_the_default_claim_names(ring: KeyRing) -> None:
    hs = ring.right["HS256"]
    config = AuthConfig(
        hs256_secret=hs.private,
        public_keys=(ring.right["RS256"].verification_key,),
        issuer=ISSUER,
        audience=AUDIENCE,
        claims=ClaimNames(tenant="org", roles="groups"),
    )
    verifier = TokenVerifier(config)
    principal = verifier.verify(hs.sign(claims()))
    assert principal.tenant_id == "acme"
    assert principal.is_tenant_admin
    outside = verifier.verify(ring.right["RS256"].sign(claims(org="globex", groups=[])))
    assert outside.tenant_id == "globex"
    assert not outside.is_tenant_admin


@pytest.mark.parametrize("bad", ["", "   "])
def test_claim_names_must_not_be_blank(bad: str) -> None:
    with pytest.raises(ValueError, match="claim name"):
        ClaimNames(tenant=bad)
