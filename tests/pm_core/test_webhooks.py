"""Webhook rules: the URL's shape, the signature, the retry delay, the filters."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pm_core.enums import Action, EntityType
from pm_core.errors import ValidationError
from pm_core.models import Webhook
from pm_core.webhooks import (
    project_filter,
    retry_delay,
    secret_hint,
    signature,
    webhook_secret,
    webhook_url,
)

NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "example.com/hook",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com/#frag",
        "https://example.com:99999/",
        "https://exa mple.com/",
        "https://exa\nmple.com/",
        "",
        "https://example.com/" + "a" * 2_000,
    ],
)
def test_webhook_url_refuses_what_is_not_a_plain_http_url(url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        webhook_url(url)
    assert raised.value.field == "url"


def test_webhook_url_keeps_a_plain_url() -> None:
    assert webhook_url(" https://hooks.example.com:8443/pm?x=1 ") == (
        "https://hooks.example.com:8443/pm?x=1"
    )


def test_webhook_secret_is_bounded() -> None:
    with pytest.raises(ValidationError):
        webhook_secret("short")
    assert webhook_secret("s" * 16) == "s" * 16
    assert secret_hint("whsec_abcdefWXYZ") == "…WXYZ"


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"seq":"1"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("k" * 16, 1700000000, body) == "sha256=" + expected
    assert signature("k" * 16, 1700000001, body) != signature("k" * 16, 1700000000, body)


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**32))
def test_retry_delay_grows_to_its_cap_with_jitter(attempt: int, seed: int) -> None:
    delay = retry_delay(attempt, 1.0, 600.0, random.Random(seed))
    ceiling = min(600.0, 2.0 ** (attempt - 1))
    assert ceiling / 2 <= delay <= ceiling


def test_retry_delays_differ_between_endpoints() -> None:
    rng = random.Random(7)
    assert len({retry_delay(5, 1.0, 600.0, rng) for _ in range(20)}) > 1


def test_project_filter_dedupes_and_bounds() -> None:
    assert project_filter(["a", "b", "a"]) == ("a", "b")
    with pytest.raises(ValidationError):
        project_filter([str(i) for i in range(101)])


def test_empty_filters_want_everything_and_each_filter_narrows() -> None:
    base = Webhook(
        id="w",
        name="n",
        url="https://x.example/",
        secret_hint="…abcd",
        created_at=NOW,
        updated_at=NOW,
    )
    assert base.wants("p1", EntityType.WORK_ITEM, Action.CREATED)
    narrowed = base.model_copy(
        update={
            "project_ids": ("p1",),
            "entity_types": (EntityType.WORK_ITEM,),
            "actions": (Action.DELETED,),
        }
    )
    assert narrowed.wants("p1", EntityType.WORK_ITEM, Action.DELETED)
    assert not narrowed.wants("p2", EntityType.WORK_ITEM, Action.DELETED)
    assert not narrowed.wants("p1", EntityType.SPRINT, Action.DELETED)
    assert not narrowed.wants("p1", EntityType.WORK_ITEM, Action.CREATED)
    assert not narrowed.wants(None, EntityType.WORK_ITEM, Action.DELETED)
