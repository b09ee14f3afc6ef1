"""The session core, driven with no socket: bounds, replay holding, dedupe, slow consumers.

Nothing here awaits: a session is state in, decisions and frames out. An event
is ``b"<seq>"`` so the frames taken out say which events were sent.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_server.session import (
    CLOSE_SLOW_CONSUMER,
    IDLE,
    MAX_EVENTS_PER_FRAME,
    OVERFLOW,
    QUEUED,
    Session,
    Subscription,
)

KIB = 1024


def new_session(*, max_frames: int = 1_000, max_bytes: int = 64 * KIB) -> Session:
    return Session(max_frames=max_frames, max_bytes=max_bytes, max_subscriptions=10)


def live(session: Session, project_id: str = "p", floor: int = 0) -> Subscription:
    subscription = session.subscribe(project_id)
    assert subscription is not None
    session.raise_floor(subscription, floor)
    session.go_live(subscription)
    return subscription


def ev(seq: int) -> bytes:
    return str(seq).encode()


def sent(session: Session) -> list[bytes]:
    """Everything the writer would send now, each event on its own."""
    out: list[bytes] = []
    while (frame := session.pop()) is not None:
        if isinstance(frame, list):
            out += frame
        else:
            out.append(frame)
    return out


def seqs(frames: list[bytes]) -> list[int]:
    return [int(f) for f in frames]


# -- bounds: frames and bytes, replies included ------------------------------------------


@pytest.mark.parametrize("kind", ["event", "reply"])
def test_one_frame_larger_than_the_byte_bound_is_accepted_into_an_empty_outbox(kind: str) -> None:
    session = new_session(max_bytes=64 * KIB)
    live(session)
    big = b"x" * (80 * KIB)
    outcome = session.deliver("p", 1, big) if kind == "event" else session.send(big)
    assert outcome == QUEUED
    assert not session.slow_consumer
    # Anything on top of it is past the bound: the reader is slow.
    assert session.send(b"r") == OVERFLOW
    assert (session.slow_consumer, session.close_code) == (True, CLOSE_SLOW_CONSUMER)


def test_queued_event_bytes_up_to_the_bound_fit_and_one_more_overflows() -> None:
    session = new_session(max_bytes=64 * KIB)
    live(session)
    for seq in range(1, 5):
        assert session.deliver("p", seq, b"x" * (16 * KIB)) == QUEUED  # exactly 64 KiB
    assert session.deliver("p", 5, b"x") == OVERFLOW
    assert session.close_code == CLOSE_SLOW_CONSUMER


def test_replies_count_against_the_byte_bound() -> None:
    # A client that sends large list requests and never reads: only bytes can stop it.
    session = new_session(max_frames=10_000, max_bytes=64 * KIB)
    for _ in range(4):
        assert session.send(b"x" * (16 * KIB)) == QUEUED
    assert session.queued_bytes == 64 * KIB
    assert session.send(b"x") == OVERFLOW
    assert session.slow_consumer
    assert (session.queued_frames, session.queued_bytes) == (0, 0)  # dropped at once
    assert session.peak_queued_bytes == 64 * KIB


def test_replies_and_events_share_both_bounds() -> None:
    session = new_session(max_frames=10, max_bytes=64 * KIB)
    live(session)
    assert session.send(b"welcome") == QUEUED
    for seq in range(1, 9):
        assert session.deliver("p", seq, ev(seq)) == QUEUED
    assert session.send(b"reply") == QUEUED  # the tenth frame
    assert session.send(b"error") == OVERFLOW

    bytes_bound = new_session(max_bytes=64 * KIB)
    live(bytes_bound)
    assert bytes_bound.send(b"x" * (60 * KIB)) == QUEUED
    assert bytes_bound.deliver("p", 1, b"x" * (5 * KIB)) == OVERFLOW


def test_nothing_is_queued_or_sent_after_an_overflow() -> None:
    session = new_session(max_frames=10)
    live(session)
    for seq in range(1, 11):
        session.deliver("p", seq, ev(seq))
    assert session.send(b"reply") == OVERFLOW
    assert session.closing
    assert session.send_closed
    assert session.send(b"late reply") == IDLE
    assert session.deliver("p", 11, ev(11)) == IDLE
    assert session.pop() is None


def test_frames_taken_out_free_their_room() -> None:
    session = new_session(max_frames=10, max_bytes=64 * KIB)
    live(session)
    for seq in range(1, 5):
        session.deliver("p", seq, b"x" * (16 * KIB))
    assert len(sent(session)) == 4
    assert (session.queued_frames, session.queued_bytes) == (0, 0)
    assert session.deliver("p", 5, b"x" * (64 * KIB)) == QUEUED
    assert session.peak_queued_bytes == 64 * KIB


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("reply"), st.integers(0, 40_000)),
            st.tuples(st.just("event"), st.integers(0, 40_000)),
            st.tuples(st.just("pop"), st.just(0)),
        ),
        max_size=60,
    )
)
def test_queued_bytes_never_pass_the_bound_but_for_one_frame(ops: list[tuple[str, int]]) -> None:
    bound = 64 * KIB
    session = new_session(max_frames=20, max_bytes=bound)
    live(session)
    largest = 0
    seq = 0
    for op, size in ops:
        if op == "pop":
            session.pop()
            continue
        frame = b"x" * size
        if op == "reply":
            outcome = session.send(frame)
        else:
            seq += 1
            outcome = session.deliver("p", seq, frame)
        if outcome == OVERFLOW:
            assert session.queued_bytes == 0
            break
        if outcome == QUEUED:
            largest = max(largest, size)
        assert session.queued_frames <= 20
        assert session.queued_bytes <= max(bound, largest)
    assert session.peak_queued_bytes <= max(bound, largest)


# -- frames out ----------------------------------------------------------------------


def test_replies_go_out_as_they_are_and_consecutive_events_as_one_frame() -> None:
    session = new_session()
    live(session)
    session.send(b"welcome")
    session.deliver("p", 1, ev(1))
    session.deliver("p", 2, ev(2))
    session.send(b"reply")
    session.deliver("p", 3, ev(3))
    assert session.pop_events() == []  # a reply is at the head
    assert session.pop() == b"welcome"
    assert session.head_is_events()
    assert session.pop() == [ev(1), ev(2)]
    assert session.pop() == b"reply"
    assert session.pop() == [ev(3)]
    assert session.pop() is None


def test_one_frame_carries_at_most_max_events_per_frame() -> None:
    session = new_session(max_frames=10_000, max_bytes=1 << 20)
    live(session)
    for seq in range(1, MAX_EVENTS_PER_FRAME + 2):
        session.deliver("p", seq, ev(seq))
    first = session.pop()
    assert isinstance(first, list)
    assert len(first) == MAX_EVENTS_PER_FRAME
    assert session.pop() == [ev(MAX_EVENTS_PER_FRAME + 1)]


def test_an_event_is_queued_as_the_very_object_published() -> None:
    # The shared frame cache compares events by identity.
    session = new_session()
    live(session)
    event = ev(1)
    session.deliver("p", 1, event)
    [taken] = session.pop_events()
    assert taken is event


# -- dedupe and re-subscribing ---------------------------------------------------------


def test_an_event_at_or_below_the_floor_is_never_sent_twice() -> None:
    session = new_session()
    live(session, floor=3)
    for seq in (2, 3, 4, 4, 5, 3):
        session.deliver("p", seq, ev(seq))
    assert seqs(sent(session)) == [4, 5]


def test_events_of_projects_not_subscribed_are_not_queued() -> None:
    session = new_session()
    live(session, "p")
    assert session.deliver("q", 1, ev(1)) == IDLE
    assert sent(session) == []


def test_resubscribing_keeps_the_subscription_and_its_floor() -> None:
    session = new_session()
    subscription = live(session)
    for seq in range(1, 6):
        session.deliver("p", seq, ev(seq))
    # subscribe P again, with a resume from before what was sent (or none at all)
    assert session.subscribe("p") is None
    session.raise_floor(subscription, 2)
    assert subscription.last_seq == 5
    for seq in range(3, 8):  # a replay from the resume, and live events
        session.deliver("p", seq, ev(seq))
    assert seqs(sent(session)) == [1, 2, 3, 4, 5, 6, 7]


def test_a_resume_ahead_of_what_was_sent_raises_the_floor() -> None:
    session = new_session()
    subscription = live(session)
    session.deliver("p", 1, ev(1))
    assert session.subscribe("p") is None
    session.raise_floor(subscription, 8)  # the client says it has up to 8
    for seq in (7, 8, 9):
        session.deliver("p", seq, ev(seq))
    assert seqs(sent(session)) == [1, 9]


def test_resubscribing_during_a_replay_neither_repeats_nor_skips() -> None:
    session = new_session()
    subscription = session.subscribe("p")
    assert subscription is not None
    session.raise_floor(subscription, 3)
    session.replayed(subscription, 4, ev(4))
    session.deliver("p", 6, ev(6))  # live, held
    assert session.subscribe("p") is None
    session.raise_floor(subscription, 2)
    session.replayed(subscription, 5, ev(5))
    session.replayed(subscription, 6, ev(6))
    session.deliver("p", 7, ev(7))
    session.go_live(subscription)
    session.deliver("p", 8, ev(8))
    assert seqs(sent(session)) == [4, 5, 6, 7, 8]


def test_a_replaced_subscription_queues_nothing_more() -> None:
    session = new_session()
    old = session.subscribe("p")
    assert old is not None
    assert session.unsubscribe("p")
    new = live(session, floor=10)
    assert session.replayed(old, 5, ev(5)) == IDLE
    assert session.go_live(old) == IDLE
    assert not session.is_current(old)
    assert session.is_current(new)
    assert not session.unsubscribe("p", old)  # an undo of the old one leaves the new one
    assert session.subscription("p") is new


def test_the_subscription_cap_counts_projects_already_subscribed_once() -> None:
    session = Session(max_frames=10, max_bytes=64 * KIB, max_subscriptions=2)
    live(session, "a")
    assert not session.would_exceed(["a", "b"])
    assert session.would_exceed(["b", "c"])


# -- replay holding -------------------------------------------------------------------


def test_live_events_wait_for_the_replay_and_come_after_it_once() -> None:
    session = new_session()
    subscription = session.subscribe("p")
    assert subscription is not None
    session.raise_floor(subscription, 10)
    for seq in (12, 13):
        assert session.deliver("p", seq, ev(seq)) == IDLE  # held
    assert session.held_frames == 2
    for seq in (11, 12):
        assert session.replayed(subscription, seq, ev(seq)) == QUEUED
    assert session.go_live(subscription) == QUEUED
    assert session.held_frames == 0
    assert seqs(sent(session)) == [11, 12, 13]


def test_presence_is_held_during_a_replay_and_released_after_it() -> None:
    session = new_session()
    subscription = session.subscribe("p")
    assert subscription is not None
    session.deliver("p", 0, b"presence")
    session.deliver("p", 0, b"presence")
    assert sent(session) == []
    session.go_live(subscription)
    assert sent(session) == [b"presence", b"presence"]  # seq 0 is never a duplicate


def test_an_unsubscribe_discards_what_its_replay_held() -> None:
    session = new_session()
    assert session.subscribe("p") is not None
    session.deliver("p", 1, b"x" * 100)
    assert (session.held_frames, session.held_bytes) == (1, 100)
    assert session.unsubscribe("p")
    assert (session.held_frames, session.held_bytes) == (0, 0)
    assert session.subscribed() == []


def test_events_held_during_a_replay_are_bounded_by_bytes() -> None:
    session = new_session(max_frames=1_000, max_bytes=64 * KIB)
    assert session.subscribe("p") is not None
    for seq in range(1, 5):
        assert session.deliver("p", seq, b"x" * (16 * KIB)) == IDLE
    assert session.deliver("p", 5, b"x" * (16 * KIB)) == OVERFLOW
    assert session.close_code == CLOSE_SLOW_CONSUMER
    assert session.held_frames == 0  # dropped with the outbox


def test_events_held_during_a_replay_are_bounded_by_count() -> None:
    session = new_session(max_frames=10)
    assert session.subscribe("p") is not None
    for seq in range(1, 11):
        assert session.deliver("p", seq, ev(seq)) == IDLE
    assert session.deliver("p", 11, ev(11)) == OVERFLOW


def test_held_events_are_bounded_across_all_replaying_subscriptions() -> None:
    session = new_session(max_frames=1_000, max_bytes=64 * KIB)
    for project_id in ("p", "q", "r", "s"):
        assert session.subscribe(project_id) is not None
        session.deliver(project_id, 1, b"x" * (16 * KIB))  # 64 KiB held in all
    assert not session.slow_consumer
    assert session.subscribe("t") is not None
    assert session.deliver("t", 1, b"x") == OVERFLOW


def test_released_held_events_count_against_the_outbox_once() -> None:
    session = new_session(max_bytes=64 * KIB)
    subscription = session.subscribe("p")
    assert subscription is not None
    for seq in range(1, 4):
        session.deliver("p", seq, b"x" * (16 * KIB))
    session.go_live(subscription)
    assert (subscription.held, subscription.held_bytes, session.held_bytes) == ([], 0, 0)
    assert session.deliver("p", 4, b"x" * (16 * KIB)) == QUEUED  # 64 KiB: still fits
    assert session.deliver("p", 5, b"x") == OVERFLOW


def test_an_overflow_while_releasing_held_events_queues_none_after_it() -> None:
    session = new_session(max_frames=3)
    live(session)
    for seq in range(1, 4):
        session.deliver("p", seq, ev(seq))  # the outbox is full
    replaying = session.subscribe("q")
    assert replaying is not None
    for seq in (10, 11, 12):
        session.deliver("q", seq, ev(seq))
    assert session.go_live(replaying) == OVERFLOW  # on 10
    # Nothing after the overflow is queued (sending 11 and 12 would skip 1-3 and 10).
    assert session.pop() is None


# -- presence and closing --------------------------------------------------------------


def test_presence_membership_is_joined_and_left_once() -> None:
    session = new_session()
    assert session.join("p")
    assert not session.join("p")
    assert session.join("q")
    assert session.is_present("p")
    assert session.leave("p")
    assert not session.leave("p")
    assert session.leave_all() == ["q"]
    assert session.leave_all() == []


def test_a_graceful_close_stops_events_then_replies_and_still_sends_what_is_queued() -> None:
    session = new_session()
    live(session)
    session.deliver("p", 1, ev(1))
    assert session.close(1001)
    assert not session.close(4001)  # the first code stays
    assert session.close_code == 1001
    assert session.deliver("p", 2, ev(2)) == IDLE
    assert session.send(b"reply in flight") == QUEUED
    session.stop_sending()
    assert session.send(b"too late") == IDLE
    assert sent(session) == [ev(1), b"reply in flight"]


def test_a_close_that_drops_sends_nothing_more() -> None:
    session = new_session()
    live(session)
    session.deliver("p", 1, ev(1))
    session.close(1011, drop=True)
    assert session.pop() is None
    assert session.send(b"reply") == IDLE
    assert not session.slow_consumer
