"""Opaque secrets: one shape for refresh tokens, invitations and API keys."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pm_auth.secrets import (
    MAX_LENGTH,
    OpaqueSecret,
    SecretKind,
    hash_secret,
    looks_like,
    matches,
    new_secret,
    parse_secret,
)
from pm_core.errors import UnauthenticatedError

ROW_ID = "0190a5f4-7c1e-7a2b-9c3d-4e5f60718293"


@pytest.mark.parametrize("kind", list(SecretKind))
def test_new_secret_has_the_documented_shape_and_parses_back(kind: SecretKind) -> None:
    secret = new_secret(kind, "acme", ROW_ID)

    assert re.fullmatch(rf"pm{kind}\.acme\.{ROW_ID}\.[A-Za-z0-9_-]{{43}}", secret.token)
    assert secret.loggable == f"pm{kind}.acme.{ROW_ID}"
    assert parse_secret(secret.token, kind) == secret
    assert looks_like(secret.token, kind)
    assert len(secret.token) <= MAX_LENGTH


def test_two_secrets_for_one_row_differ() -> None:
    first = new_secret(SecretKind.REFRESH, "acme", ROW_ID)
    second = new_secret(SecretKind.REFRESH, "acme", ROW_ID)
    assert first.secret != second.secret
    assert first.hash != second.hash


def test_stored_hash_is_sha256_of_the_random_part_only() -> None:
    secret = new_secret(SecretKind.API_KEY, "acme", ROW_ID)

    assert secret.hash == hashlib.sha256(secret.secret.encode()).hexdigest()
    assert secret.hash == hash_secret(secret.secret)
    assert matches(secret, secret.hash)
    assert not matches(secret, hash_secret("x" * 43))


def test_repr_and_loggable_form_never_hold_the_random_part() -> None:
    secret = new_secret(SecretKind.INVITATION, "acme", ROW_ID)

    assert secret.secret not in repr(secret)
    assert secret.secret not in str(secret)
    assert secret.secret not in secret.loggable


def test_a_secret_of_another_kind_is_refused() -> None:
    refresh = new_secret(SecretKind.REFRESH, "acme", ROW_ID)

    with pytest.raises(UnauthenticatedError, match="malformed API key"):
        parse_secret(refresh.token, SecretKind.API_KEY)
    assert not looks_like(refresh.token, SecretKind.API_KEY)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pmr",
        "pmr.acme.id",
        "pmr.acme.id.short",
        "pmr.ACME.id." + "a" * 43,  # tenant ids are lower case
        "pmr.acme.i.d." + "a" * 43,  # a dot inside the id
        "pmr.acme.id." + "a" * 44,
        "pmr.acme.id." + "a" * 42 + "=",
        "pmr.acme.id." + "a" * 43 + "\n",
        "pmr..id." + "a" * 43,
        "Bearer pmr.acme.id." + "a" * 43,
        "pmr.acme." + "i" * 65 + "." + "a" * 43,
        "pmr.acme.id." + "a" * 10_000,
    ],
)
def test_malformed_secret_is_refused_without_quoting_it(text: str) -> None:
    with pytest.raises(UnauthenticatedError) as caught:
        parse_secret(text, SecretKind.REFRESH)
    assert str(caught.value) == "malformed refresh token"


@given(st.text(max_size=300))
def test_parse_never_fails_otherwise_on_any_text(text: str) -> None:
    try:
        parsed = parse_secret(text, SecretKind.REFRESH)
    except UnauthenticatedError:
        return
    assert isinstance(parsed, OpaqueSecret)
    assert parsed.token == text


@pytest.mark.parametrize(("tenant", "row_id"), [("Acme", ROW_ID), ("acme", "a.b"), ("acme", "")])
def test_new_secret_refuses_parts_that_would_not_parse(tenant: str, row_id: str) -> None:
    with pytest.raises(ValueError, match=r"tenant|row id"):
        new_secret(SecretKind.REFRESH, tenant, row_id)
