"""The event frame is built once per tick and reused only for the very same events
(the framing itself is checked against aiohttp in test_wire.py)."""

from __future__ import annotations

from pm_proto.frames import event_batch_frame, event_frame
from pm_server.fanout import FrameCache
from pm_server.wire import ws_binary_frame


def test_same_event_objects_reuse_the_frame() -> None:
    cache = FrameCache()
    events = [b"\x08\x01", b"\x08\x02"]
    first = cache.payload(list(events))
    assert first == event_batch_frame(events)
    assert cache.payload(list(events)) is first
    wire = cache.wire(list(events))
    assert wire == ws_binary_frame(first)
    assert cache.wire(list(events)) is wire


def test_other_events_get_their_own_frame() -> None:
    cache = FrameCache()
    one, two = b"\x08\x01", b"\x08\x02"
    assert cache.payload([one]) == event_frame(one)
    assert cache.payload([two]) == event_frame(two)
    assert cache.wire([two]) == ws_binary_frame(event_frame(two))
    assert cache.payload([one, two]) == event_batch_frame([one, two])
    # Equal bytes but another object (another event): never served from the cache.
    cached = cache.payload([one])
    cached_wire = cache.wire([one])
    other = bytes(bytearray(one))
    assert other is not one
    assert cache.payload([other]) is not cached
    assert cache.wire([other]) is not cached_wire
    assert cache.payload([other]) == event_frame(other)
