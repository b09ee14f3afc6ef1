"""The event frame is built once per tick and reused only for the very same events."""

from __future__ import annotations

from pm_proto.frames import event_batch_frame, event_frame
from pm_server.connection import _FrameCache


def test_same_event_objects_reuse_the_frame() -> None:
    cache = _FrameCache()
    events = [b"\x08\x01", b"\x08\x02"]
    first = cache.frame(list(events))
    assert first == event_batch_frame(events)
    assert cache.frame(list(events)) is first


def test_other_events_get_their_own_frame() -> None:
    cache = _FrameCache()
    one, two = b"\x08\x01", b"\x08\x02"
    assert cache.frame([one]) == event_frame(one)
    assert cache.frame([two]) == event_frame(two)
    assert cache.frame([one, two]) == event_batch_frame([one, two])
    # Equal bytes but another object (another event): never served from the cache.
    cached = cache.frame([one])
    other = bytes(bytearray(one))
    assert other is not one
    assert cache.frame([other]) is not cached
    assert cache.frame([other]) == event_frame(other)
