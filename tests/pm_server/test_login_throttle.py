"""LoginThrottle: token buckets per account and per address, with a fake clock."""

from __future__ import annotations

import pytest

from pm_server.auth.throttle import LoginThrottle, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(
    clock: Clock, *, account: int = 3, address: int = 10, max_keys: int = 100
) -> LoginThrottle:
    return LoginThrottle(Rate(account, 6.0), Rate(address, 60.0), clock=clock, max_keys=max_keys)


def test_an_account_gets_its_burst_then_waits_for_the_refill(clock: Clock) -> None:
    limits = throttle(clock)
    assert [limits.attempt("acme", "a@x", "1.2.3.4") for _ in range(3)] == [0.0] * 3

    wait = limits.attempt("acme", "a@x", "1.2.3.4")

    assert wait == pytest.approx(10.0)  # 6 per minute: one every 10 s
    clock.now += wait
    assert limits.attempt("acme", "a@x", "1.2.3.4") == 0.0
    assert limits.attempt("acme", "a@x", "1.2.3.4") > 0


def test_the_account_limit_is_per_tenant_and_email(clock: Clock) -> None:
    limits = throttle(clock)
    for _ in range(3):
        limits.attempt("acme", "a@x", "1.2.3.4")

    assert limits.attempt("acme", "b@x", "1.2.3.4") == 0.0
    assert limits.attempt("other", "a@x", "1.2.3.4") == 0.0


def test_one_address_is_limited_across_emails(clock: Clock) -> None:
    limits = throttle(clock, account=100, address=4)
    assert all(limits.attempt("acme", f"u{n}@x", "1.2.3.4") == 0.0 for n in range(4))

    assert limits.attempt("acme", "u9@x", "1.2.3.4") == pytest.approx(1.0)
    assert limits.attempt("acme", "u9@x", "5.6.7.8") == 0.0


def test_a_refused_attempt_takes_nothing(clock: Clock) -> None:
    limits = throttle(clock, account=1, address=2)
    limits.attempt("acme", "a@x", "1.2.3.4")
    for _ in range(5):
        assert limits.attempt("acme", "a@x", "1.2.3.4") > 0

    assert limits.attempt("acme", "b@x", "1.2.3.4") == 0.0  # the address still had one


def test_success_gives_the_tokens_back(clock: Clock) -> None:
    limits = throttle(clock, account=1)
    for _ in range(5):
        assert limits.attempt("acme", "a@x", "1.2.3.4") == 0.0
        limits.succeeded("acme", "a@x", "1.2.3.4")


def test_buckets_held_stay_bounded(clock: Clock) -> None:
    limits = throttle(clock, max_keys=50)
    for n in range(500):
        limits.attempt("acme", f"u{n}@x", f"10.0.{n // 250}.{n % 250}")

    accounts, addresses = limits.held
    assert accounts <= 50
    assert addresses <= 50
