"""Resume positions: every event handed out once, none lost around a subscribe reply."""

from __future__ import annotations

from pm_client.events import Positions
from pm_proto.v1 import commands_pb2, events_pb2


def event(seq: int, project_id: str = "p1") -> events_pb2.Event:
    return events_pb2.Event(seq=seq, project_id=project_id)


def reply(seq: int, *project_ids: str, epoch: str = "e1") -> commands_pb2.SubscribeReply:
    return commands_pb2.SubscribeReply(epoch=epoch, seq=seq, project_ids=project_ids or ["p1"])


def subscribed(positions: Positions, seq: int, *project_ids: str) -> None:
    ids = list(project_ids or ["p1"])
    positions.begin(ids)
    assert positions.end(ids, reply(seq, *ids)) == []


def test_event_that_overtakes_the_subscribe_reply_is_handed_out_after_it():
    positions = Positions()
    positions.begin(["p1"])
    assert not positions.accept(event(11))  # held until the reply says where we start
    released = positions.end(["p1"], reply(10))
    assert [e.seq for e in released] == [11]
    assert positions.groups() == [(["p1"], 11)]
    assert positions.last_seq == 11


def test_held_event_at_or_before_the_subscription_start_is_dropped():
    positions = Positions()
    positions.begin(["p1"])
    positions.accept(event(10))
    assert positions.end(["p1"], reply(10)) == []


def test_event_at_or_below_the_position_of_its_subscription_is_a_duplicate():
    positions = Positions()
    subscribed(positions, 10)
    assert positions.accept(event(11))
    assert not positions.accept(event(11))
    assert not positions.accept(event(9))
    assert positions.accept(event(12))
    assert positions.groups() == [(["p1"], 12)]


def test_presence_events_without_seq_always_pass():
    positions = Positions()
    subscribed(positions, 10)
    positions.begin(["p1"])
    assert positions.accept(event(0))
    assert positions.accept(event(0))
    assert positions.last_seq == 10


def test_each_subscribe_call_keeps_its_own_position():
    positions = Positions()
    subscribed(positions, 10, "p1")
    positions.accept(event(11, "p1"))
    subscribed(positions, 20, "p2", "p3")
    positions.accept(event(21, "p3"))
    assert positions.groups() == [(["p1"], 11), (["p2", "p3"], 21)]
    assert positions.last_seq == 21


def test_project_subscribed_again_moves_to_the_new_subscription():
    positions = Positions()
    subscribed(positions, 10, "p1", "p2")
    subscribed(positions, 15, "p2")
    assert positions.groups() == [(["p1"], 10), (["p2"], 15)]
    positions.unsubscribed(["p1"])
    assert positions.groups() == [(["p2"], 15)]
    assert positions.project_ids == ["p2"]


def test_another_epoch_restarts_the_position_from_its_reply():
    positions = Positions()
    subscribed(positions, 100)
    positions.begin(["p1"])
    positions.end(["p1"], reply(7, "p1", epoch="e2"))
    assert (positions.epoch, positions.last_seq) == ("e2", 7)
    assert positions.accept(event(8))


def test_failed_subscribe_releases_held_events_untracked():
    positions = Positions()
    positions.begin(["p1"])
    positions.accept(event(5))
    released = positions.end(["p1"], None)
    assert [e.seq for e in released] == [5]
    assert positions.groups() == []
