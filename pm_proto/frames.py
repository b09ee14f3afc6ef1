"""The frame codec: bytes of one WebSocket frame <-> envelope messages.

A client frame is one ``ClientMessage``; a server frame is one
``ServerMessage``. Events are stored already encoded (the bytes of one
``pm.v1.Event``), so the frames that carry them are spliced together from the
stored bytes instead of being parsed and re-encoded: encode once, fan out
many. Splicing relies on the protobuf wire format, where a message field is
its tag, the length as a varint, then the bytes of the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from google.protobuf.message import DecodeError

from pm_core.errors import InvalidMessageError
from pm_proto.v1.envelope_pb2 import ClientMessage, EventBatch, Reply, ServerMessage

_WIRE_VARINT: Final = 0
_WIRE_I64: Final = 1
_WIRE_LEN: Final = 2
_WIRE_SGROUP: Final = 3
_WIRE_EGROUP: Final = 4
_WIRE_I32: Final = 5
_MAX_FIELD_NUMBER: Final = (1 << 29) - 1
_MAX_GROUP_DEPTH: Final = 100  # protobuf's own default nesting limit


def _varint(n: int) -> bytes:
    """``n`` (>= 0) as a protobuf base-128 varint."""
    if n < 0:
        raise ValueError("varint needs a non-negative integer")
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_tag(field_number: int) -> bytes:
    return _varint(field_number << 3 | _WIRE_LEN)


_EVENT_TAG: Final = _len_tag(ServerMessage.EVENT_FIELD_NUMBER)  # 0x22
_EVENTS_TAG: Final = _len_tag(ServerMessage.EVENTS_FIELD_NUMBER)  # 0x2a
_BATCH_EVENT_TAG: Final = _len_tag(EventBatch.EVENTS_FIELD_NUMBER)  # 0x0a
_REQUEST_ID_NUMBER: Final = ClientMessage.REQUEST_ID_FIELD_NUMBER
_REPLY_TAG: Final = _len_tag(ServerMessage.REPLY_FIELD_NUMBER)  # 0x12
_REPLY_REQUEST_ID_TAG: Final = _len_tag(Reply.REQUEST_ID_FIELD_NUMBER)  # 0x0a


def decode_client(data: bytes) -> ClientMessage:
    """The ClientMessage in ``data``; InvalidMessageError when there is none.

    A frame that does not parse, or that parses but names no command (for
    instance one a newer client built), is an InvalidMessageError. The
    request id is returned as sent.
    """
    msg = ClientMessage()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidMessageError("frame is not a valid ClientMessage") from exc
    except Exception as exc:  # any other parser failure is still a bad frame
        raise InvalidMessageError("frame could not be decoded") from exc
    if msg.WhichOneof("command") is None:
        raise InvalidMessageError("no command")
    return msg


def encode(msg: ServerMessage) -> bytes:
    return msg.SerializeToString()


def event_frame(event: bytes) -> bytes:
    """The ServerMessage carrying one encoded Event, without parsing it."""
    return b"".join((_EVENT_TAG, _varint(len(event)), event))


def reply_frame(request_id: str, reply: bytes) -> bytes:
    """The ServerMessage carrying an encoded ``Reply`` (built without a request id, as
    stored for idempotent retries) answering ``request_id``, without parsing the reply."""
    rid = request_id.encode("utf-8")
    head = b"".join((_REPLY_REQUEST_ID_TAG, _varint(len(rid)), rid))
    return b"".join((_REPLY_TAG, _varint(len(head) + len(reply)), head, reply))


def event_batch_frame(events: Sequence[bytes]) -> bytes:
    """The ServerMessage carrying an EventBatch of encoded Events, in order."""
    parts: list[bytes] = []
    for event in events:
        parts += (_BATCH_EVENT_TAG, _varint(len(event)), event)
    batch = b"".join(parts)
    return b"".join((_EVENTS_TAG, _varint(len(batch)), batch))


def request_id_of(data: bytes) -> str:
    """Best effort: the request id of a client frame, "" when it cannot be told.

    For a frame that failed to decode as a whole, so an INVALID_MESSAGE error
    can still carry the id. Reads top-level fields until the end or the first
    malformed one; as in protobuf, the last ``request_id`` read wins. Never
    raises.
    """
    try:
        return _scan_request_id(bytes(data))
    except Exception:  # best effort by contract: a bad frame must not raise here
        return ""


def _scan_request_id(data: bytes) -> str:
    found = ""
    pos = 0
    while pos < len(data):
        try:
            step = _scan_field(data, pos)
        except ValueError:  # a varint cut short ends the scan: keep what was read
            break
        if step is None:
            break
        pos, request_id = step
        if request_id is not None:
            found = request_id
    return found


def _scan_field(data: bytes, pos: int) -> tuple[int, str | None] | None:
    """One top-level field at ``pos``: the position after it and, for ``request_id``,
    its value. None when the field is malformed."""
    end = len(data)
    tag, pos = _read_varint(data, pos)
    number, wire = tag >> 3, tag & 7
    if tag > 0xFFFFFFFF or not 0 < number <= _MAX_FIELD_NUMBER:
        return None
    if number == _REQUEST_ID_NUMBER and wire == _WIRE_LEN:
        length, pos = _read_varint(data, pos)
        if pos + length > end:
            return None
        try:
            value = data[pos : pos + length].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return pos + length, value
    next_pos = _skip_field(data, pos, number, wire)
    return None if next_pos is None else (next_pos, None)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; ValueError when malformed."""
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos
    raise ValueError("varint longer than 10 bytes")


def _skip_field(data: bytes, pos: int, number: int, wire: int, depth: int = 0) -> int | None:
    """The position after the field whose tag ended at ``pos``; None when malformed."""
    if wire == _WIRE_VARINT:
        return _read_varint(data, pos)[1]
    if wire == _WIRE_I64:
        pos += 8
    elif wire == _WIRE_I32:
        pos += 4
    elif wire == _WIRE_LEN:
        length, pos = _read_varint(data, pos)
        pos += length
    elif wire == _WIRE_SGROUP:
        if depth >= _MAX_GROUP_DEPTH:
            return None
        while True:  # fields until the matching end-group tag
            tag, pos = _read_varint(data, pos)
            inner_number, inner_wire = tag >> 3, tag & 7
            if inner_wire == _WIRE_EGROUP:
                return pos if inner_number == number else None
            if tag > 0xFFFFFFFF or not 0 < inner_number <= _MAX_FIELD_NUMBER:
                return None
            skipped = _skip_field(data, pos, inner_number, inner_wire, depth + 1)
            if skipped is None:
                return None
            pos = skipped
    else:  # a stray end-group tag, or wire types 6 and 7
        return None
    return pos if pos <= len(data) else None
