"""The slots refused requests are told to come back at, and which refusals count as flooding."""

from __future__ import annotations

import pytest

from pm_server.limits import Pacer, Refusal

#: The bucket's answer: one token in 4 ms, at 250/s.
EMPTY = Refusal(0.004, 250.0)


def test_requests_refused_together_get_successive_slots_one_token_apart() -> None:
    pacer = Pacer(allowance=64, capacity=300)
    answers = [pacer.refuse(10.0, f"r{n}", EMPTY) for n in range(4)]
    assert [a.retry_after for a in answers] == pytest.approx([0.004, 0.008, 0.012, 0.016])
    assert not any(a.counted for a in answers)  # sent before the client could know


def test_request_sent_again_before_its_slot_is_counted_and_keeps_its_slot() -> None:
    pacer = Pacer(allowance=64, capacity=300)
    pacer.refuse(10.0, "r1", EMPTY)
    early = pacer.refuse(10.001, "r1", EMPTY)
    assert early.counted
    assert early.retry_after == pytest.approx(0.003)  # still 10.004, not pushed back


def test_request_sent_again_at_its_slot_and_refused_again_is_not_counted() -> None:
    pacer = Pacer(allowance=64, capacity=300)
    pacer.refuse(10.0, "r1", EMPTY)
    again = pacer.refuse(10.004, "r1", EMPTY)  # another request took the token
    assert not again.counted
    assert again.retry_after == pytest.approx(0.004)


def test_sequential_client_waiting_as_told_is_never_counted() -> None:
    pacer = Pacer(allowance=1, capacity=10)
    now = 10.0
    for n in range(1_000):
        answer = pacer.refuse(now, f"r{n}", EMPTY)
        assert not answer.counted
        now += answer.retry_after  # then admitted; the next request is refused at once


def test_new_requests_beyond_the_allowance_waiting_are_counted() -> None:
    pacer = Pacer(allowance=3, capacity=10)
    counted = [pacer.refuse(10.0, f"r{n}", EMPTY).counted for n in range(5)]
    assert counted == [False, False, False, True, True]
    # Once the slots are due, the allowance is free again.
    assert not pacer.refuse(11.0, "later", EMPTY).counted


def test_frame_without_a_request_id_is_always_counted() -> None:
    pacer = Pacer(allowance=64, capacity=300)
    assert pacer.refuse(10.0, "", EMPTY).counted


def test_remembered_slots_are_bounded() -> None:
    pacer = Pacer(allowance=2, capacity=5)
    for n in range(100):
        pacer.refuse(10.0, f"r{n}", EMPTY)
    assert pacer.waiting == 5
