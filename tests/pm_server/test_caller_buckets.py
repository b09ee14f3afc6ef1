"""The rate buckets of HTTP callers: one per token subject or API key, kept between requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from pm_server import limits as limits_module
from pm_server.limits import ServerLimits
from pm_server.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def server_limits(tmp_path: Path, clock: Clock) -> ServerLimits:
    settings = Settings(
        data_dir=tmp_path,
        rate_limit_connection_per_second=1.0,
        rate_limit_connection_burst=2,
        rate_limit_tenant_per_second=1_000.0,
        rate_limit_tenant_burst=1_000,
    )
    return ServerLimits(settings, CollectorRegistry(), clock)


def spend(limits: ServerLimits, caller: str | None, tenant: str = "acme") -> bool:
    """One request: opened, admitted or refused, closed. True when admitted."""
    request = limits.open(tenant, "alice", caller)
    try:
        return request.admit(lambda: "r") is None
    finally:
        request.close()


def test_a_callers_requests_share_one_bucket_across_requests(tmp_path: Path) -> None:
    clock = Clock()
    limits = server_limits(tmp_path, clock)
    assert [spend(limits, "user:alice") for _ in range(3)] == [True, True, False]
    assert spend(limits, "user:bob")  # another caller: a bucket of its own
    assert spend(limits, "user:alice", tenant="other")  # the same subject in another tenant
    clock.now += 1.0
    assert spend(limits, "user:alice")
    assert not spend(limits, "user:alice")


def test_without_a_caller_each_opening_gets_a_fresh_bucket(tmp_path: Path) -> None:
    limits = server_limits(tmp_path, Clock())
    assert all(spend(limits, None) for _ in range(5))  # WebSocket connections: one each


def test_a_refusal_says_when_the_callers_bucket_has_a_token(tmp_path: Path) -> None:
    limits = server_limits(tmp_path, Clock())
    spend(limits, "key:k1")
    spend(limits, "key:k1")
    request = limits.open("acme", "agent", "key:k1")
    refusal = request.admit(lambda: "r3")
    request.close()
    assert refusal is not None
    assert refusal.retry_after == pytest.approx(1.0)
    assert refusal.rate == 1.0


def test_least_recently_seen_caller_is_forgotten_past_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits_module, "CALLERS_CAP", 2)
    limits = server_limits(tmp_path, Clock())
    spend(limits, "user:a")
    spend(limits, "user:a")
    spend(limits, "user:b")
    spend(limits, "user:a")  # refused, and a is now the most recently seen
    spend(limits, "user:c")  # b is forgotten, not a
    assert not spend(limits, "user:a")
