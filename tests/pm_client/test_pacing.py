"""The client's pacing learnt from RATE_LIMITED (pure, explicit times)."""

from __future__ import annotations

import pytest

from pm_client.pacing import HEADROOM, Pacer


def test_client_that_was_never_refused_is_not_paced() -> None:
    pacer = Pacer()
    assert [pacer.delay(10.0) for _ in range(100)] == [0.0] * 100


def test_after_a_refusal_sends_wait_for_the_retry_time_then_go_below_the_stated_rate() -> None:
    pacer = Pacer()
    pacer.refused(10.0, 0.004, 250.0)
    interval = 1 / (250.0 * HEADROOM)
    delays = [pacer.delay(10.0) for _ in range(3)]
    assert delays == pytest.approx([0.004, 0.004 + interval, 0.004 + 2 * interval])
    assert interval > 1 / 250.0


def test_idle_client_is_not_delayed_by_pacing_it_learnt_long_ago() -> None:
    pacer = Pacer()
    pacer.refused(10.0, 0.004, 250.0)
    assert pacer.delay(60.0) == 0.0


def test_refusal_without_a_stated_rate_only_delays_until_the_retry_time() -> None:
    pacer = Pacer()
    pacer.refused(10.0, 0.5, 0.0)
    assert pacer.delay(10.0) == pytest.approx(0.5)
    assert pacer.delay(10.6) == 0.0
