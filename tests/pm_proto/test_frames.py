"""The frame codec: decoding client frames, splicing event frames, salvaging request ids."""

from __future__ import annotations

import contextlib

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.wrappers_pb2 import UInt64Value
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import InvalidMessageError
from pm_proto.frames import (
    _varint,
    decode_client,
    encode,
    event_batch_frame,
    event_frame,
    reply_frame,
    request_id_of,
)
from pm_proto.v1 import commands_pb2, entities_pb2
from pm_proto.v1.envelope_pb2 import ClientMessage, EventBatch, Reply, ServerMessage
from pm_proto.v1.events_pb2 import Event, Presence

text = st.text(st.characters(codec="utf-8"), max_size=40)


@st.composite
def events(draw: st.DrawFn) -> Event:
    event = Event(
        seq=draw(st.integers(0, 2**63 - 1)),
        project_id=draw(text),
        actor_id=draw(text),
        entity_type=draw(st.sampled_from(entities_pb2.EntityType.values())),
        entity_id=draw(text),
        action=draw(st.sampled_from(entities_pb2.Action.values())),
        cascaded_ids=draw(st.lists(text, max_size=3)),
        changes=[
            entities_pb2.FieldChange(field=f, old_json=o, new_json=n)
            for f, o, n in draw(st.lists(st.tuples(text, text, text), max_size=3))
        ],
    )
    if draw(st.booleans()):
        event.occurred_at.CopyFrom(Timestamp(seconds=draw(st.integers(0, 2**34))))
    kind = draw(st.sampled_from(["none", "comment", "presence"]))
    if kind == "comment":
        body = draw(st.one_of(text, st.just("\u6f22" * 5000)))
        event.comment.CopyFrom(entities_pb2.Comment(id="c1", version=3, body=body))
    elif kind == "presence":
        event.presence.CopyFrom(Presence(user_id=draw(text), present=draw(st.booleans())))
    return event


encoded_events = events().map(lambda e: e.SerializeToString())

commands = st.sampled_from(
    [
        ClientMessage(ping=commands_pb2.Ping(nonce=7)),
        ClientMessage(stop_timer=commands_pb2.StopTimer()),
        ClientMessage(create_comment=commands_pb2.CreateComment(work_item_id="w", body="hi")),
        ClientMessage(subscribe=commands_pb2.Subscribe(project_ids=["p1", "p2"])),
    ]
)


@st.composite
def client_messages(draw: st.DrawFn) -> ClientMessage:
    msg = ClientMessage()
    msg.CopyFrom(draw(commands))
    msg.request_id = draw(text)
    msg.protocol_version = draw(st.integers(0, 2**32 - 1))
    return msg


# ---- decode_client ------------------------------------------------------------


@given(client_messages())
def test_decode_client_returns_the_message_sent(msg):
    assert decode_client(msg.SerializeToString()) == msg


def test_decode_client_keeps_the_request_id_as_sent():
    msg = ClientMessage(request_id="  \U0001f600 r-1 ", ping=commands_pb2.Ping())
    assert decode_client(msg.SerializeToString()).request_id == "  \U0001f600 r-1 "


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        ClientMessage(request_id="r1").SerializeToString(),
        ClientMessage(request_id="r1", protocol_version=1).SerializeToString(),
        # A command number this schema does not know (as from a newer client).
        ClientMessage(request_id="r1").SerializeToString() + b"\xba\x3e\x00",
    ],
    ids=["empty", "request-id-only", "version-only", "unknown-command"],
)
def test_decode_client_without_a_command_is_invalid(frame):
    with pytest.raises(InvalidMessageError) as info:
        decode_client(frame)
    assert info.value.message == "no command"
    assert info.value.code == "INVALID_MESSAGE"


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff",
        b"\x0a\x05ab",  # request_id longer than the frame
        b"\x0a\x02\xff\xfe\xd2\x07\x00",  # request_id that is not UTF-8
        b"\x00\x01",  # field number 0
        b"\x0f",  # wire type 7
        b"\x0a\x02r1\xd2\x07\x02\x08\x80",  # ping with a truncated nonce
        b"\x8a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # varint of 11 bytes
    ],
)
def test_decode_client_of_malformed_frames_is_invalid_without_echoing_them(frame):
    with pytest.raises(InvalidMessageError) as info:
        decode_client(frame)
    assert info.value.message == "frame is not a valid ClientMessage"
    assert repr(frame)[2:-1] not in str(info.value)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_decode_client_of_random_bytes_returns_a_command_or_invalid(data):
    try:
        msg = decode_client(data)
    except InvalidMessageError:
        return
    assert isinstance(msg, ClientMessage)
    assert msg.WhichOneof("command") is not None


@settings(max_examples=200)
@given(client_messages(), st.binary(min_size=1, max_size=30))
def test_decode_client_of_a_valid_frame_with_garbage_appended_never_crashes(msg, garbage):
    with contextlib.suppress(InvalidMessageError):
        decode_client(msg.SerializeToString() + garbage)


# ---- encode and event frames ------------------------------------------------


def test_encode_is_the_serialised_server_message():
    msg = ServerMessage(event=Event(seq=3, entity_id="x"))
    assert ServerMessage.FromString(encode(msg)) == msg
    assert encode(msg) == msg.SerializeToString()


@given(st.integers(1, 2**64 - 1))
def test_varint_matches_protobuf(n):
    assert _varint(n) == UInt64Value(value=n).SerializeToString()[1:]  # after the tag


def test_varint_of_zero_is_one_zero_byte():
    assert _varint(0) == b"\x00"


def test_varint_refuses_negative_numbers():
    with pytest.raises(ValueError, match="non-negative"):
        _varint(-1)


@given(encoded_events)
def test_event_frame_equals_the_protobuf_built_frame(event):
    expected = ServerMessage(event=Event.FromString(event)).SerializeToString()
    frame = event_frame(event)
    assert frame == expected
    assert ServerMessage.FromString(frame).event.SerializeToString() == event


@given(st.lists(encoded_events, max_size=6))
def test_event_batch_frame_equals_the_protobuf_built_frame(batch):
    parsed = [Event.FromString(e) for e in batch]
    expected = ServerMessage(events=EventBatch(events=parsed)).SerializeToString()
    frame = event_batch_frame(batch)
    assert frame == expected
    assert list(ServerMessage.FromString(frame).events.events) == parsed


def test_event_frames_of_large_events_use_multi_byte_lengths():
    event = Event(seq=1, comment=entities_pb2.Comment(body="x" * 70_000)).SerializeToString()
    assert event_frame(event) == ServerMessage(event=Event.FromString(event)).SerializeToString()
    batch = [event, event, b""]
    assert (
        event_batch_frame(batch)
        == ServerMessage(
            events=EventBatch(events=[Event.FromString(e) for e in batch])
        ).SerializeToString()
    )


def test_empty_event_and_empty_batch_are_still_frames_with_a_kind():
    assert ServerMessage.FromString(event_frame(b"")).WhichOneof("kind") == "event"
    assert ServerMessage.FromString(event_batch_frame([])).WhichOneof("kind") == "events"


# ---- request_id_of ----------------------------------------------------------


@given(client_messages())
def test_request_id_of_a_valid_frame_is_its_request_id(msg):
    assert request_id_of(msg.SerializeToString()) == msg.request_id


@given(client_messages(), st.binary(max_size=30))
def test_request_id_of_a_frame_spoilt_after_the_request_id_still_finds_it(msg, garbage):
    head = ClientMessage(request_id=msg.request_id, protocol_version=msg.protocol_version)
    assert request_id_of(head.SerializeToString() + b"\x07" + garbage) == msg.request_id


def test_request_id_of_a_truncated_command_still_finds_it():
    frame = ClientMessage(request_id="r-9", ping=commands_pb2.Ping(nonce=300)).SerializeToString()
    with pytest.raises(InvalidMessageError):
        decode_client(frame[:-1])
    assert request_id_of(frame[:-1]) == "r-9"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b"", ""),
        (b"\xff", ""),
        (b"\x0a\x05ab", ""),  # truncated request id
        (b"\x0a\x02\xff\xfe", ""),  # not UTF-8
        (b"\x0a\x01a\x0a\x01b", "b"),  # the last one wins, as in protobuf
        (b"\x08\x01\x0a\x01a", "a"),  # request_id with the wrong wire type is skipped
        (b"\x0b\x10\x01\x0c\x0a\x01z", "z"),  # a group before it
        (b"\x0b" * 200 + b"\x0c" * 200 + b"\x0a\x01z", ""),  # groups nested too deep
    ],
)
def test_request_id_of_hand_built_frames(frame, expected):
    assert request_id_of(frame) == expected


@settings(max_examples=500)
@given(st.binary(max_size=100))
def test_request_id_of_random_bytes_never_raises_and_agrees_with_protobuf(data):
    found = request_id_of(data)
    assert isinstance(found, str)
    msg = ClientMessage()
    try:
        msg.ParseFromString(data)
    except Exception:  # any parse failure: only "never raises" applies
        return
    assert found == msg.request_id


@settings(max_examples=200)
@given(
    request_id=st.text(min_size=1, max_size=128),
    title=st.text(max_size=3000),
)
def test_reply_frame_equals_the_protobuf_built_frame(request_id: str, title: str) -> None:
    item = entities_pb2.WorkItem(id="i", title=title, version=3)
    body = Reply(work_item=commands_pb2.WorkItemReply(item=item))
    expected = ServerMessage(reply=Reply(request_id=request_id, work_item=body.work_item))

    frame = reply_frame(request_id, body.SerializeToString())

    assert ServerMessage.FromString(frame) == expected
    assert frame == expected.SerializeToString()
