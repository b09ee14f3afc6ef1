"""The protobuf wire format by hand, to build frames no well-behaved encoder would.

A field is its key (``field_number << 3 | wire_type`` as a varint) then its
value: a varint (wire 0), 8 bytes (1), a length and that many bytes (2), a
group up to its end tag (3/4), or 4 bytes (5). These helpers write any of
them for any field number, so a test can send a string as a varint, a length
longer than the frame, a field number the schema does not have, or groups
nested deeper than any parser allows.
"""

from __future__ import annotations

from typing import Final

VARINT: Final = 0
I64: Final = 1
LEN: Final = 2
SGROUP: Final = 3
EGROUP: Final = 4
I32: Final = 5

#: ``ClientMessage.request_id`` and ``ClientMessage.protocol_version``.
REQUEST_ID_FIELD: Final = 1
PROTOCOL_VERSION_FIELD: Final = 2


def varint(n: int) -> bytes:
    """``n`` as a varint; negative numbers as protobuf writes them (10 bytes, two's complement)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def len_field(field_number: int, payload: bytes) -> bytes:
    return key(field_number, LEN) + varint(len(payload)) + payload


def varint_field(field_number: int, value: int) -> bytes:
    return key(field_number, VARINT) + varint(value)


def fixed64_field(field_number: int, value: int) -> bytes:
    return key(field_number, I64) + (value % (1 << 64)).to_bytes(8, "little")


def fixed32_field(field_number: int, value: int) -> bytes:
    return key(field_number, I32) + (value % (1 << 32)).to_bytes(4, "little")


def nested_groups(field_number: int, depth: int) -> bytes:
    """``depth`` start-group tags, then as many end-group tags."""
    return key(field_number, SGROUP) * depth + key(field_number, EGROUP) * depth


def envelope(request_id: bytes | None, command_field: int, command: bytes) -> bytes:
    """A ClientMessage: the request id first (when given), then the command."""
    head = b"" if request_id is None else len_field(REQUEST_ID_FIELD, request_id)
    return head + len_field(command_field, command)


def request_id_end(frame: bytes) -> int:
    """Where the leading request_id field of a frame built by :func:`envelope` ends (0: none)."""
    if not frame.startswith(key(REQUEST_ID_FIELD, LEN)):
        return 0
    length, pos, shift = 0, 1, 0
    while pos < len(frame):
        byte = frame[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return pos + length
    return len(frame) + 1
