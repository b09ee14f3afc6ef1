"""Direct writes to aiohttp's transport: the one place that frames WebSocket messages itself.

aiohttp sends a message with ``WebSocketResponse.send_bytes``, one coroutine
per frame. Fan-out (:mod:`pm_server.fanout`) instead writes the events of an
idle connection, as one complete frame, straight to the socket's transport
at the end of the tick. That relies on facts about aiohttp that no public API
promises, all of them here:

- A server frame is unmasked and, with permessage-deflate never negotiated
  (``compress=False`` in :mod:`pm_server.ws`), is the RFC 6455 header and the
  payload as they are: :func:`ws_binary_frame` builds the same bytes.
- aiohttp writes an uncompressed frame whole to the transport before it
  awaits anything, so a direct write never lands inside one of its frames.
- The request's transport offers ``write``, ``is_closing``,
  ``get_write_buffer_size`` and ``abort`` (asyncio's, or uvloop's, whose
  transports are not subclasses of asyncio's: hence duck typing).

``tests/pm_server/test_wire.py`` checks each of them against the installed
aiohttp and fails on a release other than :data:`AIOHTTP_VERIFIED`: moving to
another aiohttp means running it and then moving the pin.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol, cast

#: The aiohttp release (major.minor) these facts were checked against.
AIOHTTP_VERIFIED: Final = "3.14"

#: Bytes a socket's transport may hold unsent and still be written to directly.
DIRECT_WRITE_LIMIT: Final = 64 * 1024

_FIN_BINARY: Final = 0x80 | 0x2
_LEN16: Final = struct.Struct("!BBH")
_LEN64: Final = struct.Struct("!BBQ")


def ws_binary_frame(payload: bytes) -> bytes:
    """``payload`` as one unmasked, uncompressed, final binary WebSocket frame
    (what a server sends; RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        header = bytes((_FIN_BINARY, size))
    elif size < 1 << 16:
        header = _LEN16.pack(_FIN_BINARY, 126, size)
    else:
        header = _LEN64.pack(_FIN_BINARY, 127, size)
    return header + payload


class _Transport(Protocol):
    def write(self, data: bytes) -> None: ...
    def is_closing(self) -> bool: ...
    def get_write_buffer_size(self) -> int: ...


_NEEDED: Final = ("write", "is_closing", "get_write_buffer_size")


class DirectWriter:
    """Writes complete frames to one socket's transport, without awaiting."""

    __slots__ = ("_transport",)

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport

    def writable(self) -> bool:
        """Whether a frame may be written now: the transport is open and holds at most
        :data:`DIRECT_WRITE_LIMIT` unsent bytes (a busier one is left to the writer
        task, which waits for it to drain)."""
        transport = self._transport
        return (
            not transport.is_closing() and transport.get_write_buffer_size() <= DIRECT_WRITE_LIMIT
        )

    def write(self, frame: bytes) -> None:
        """Write one frame built by :func:`ws_binary_frame`."""
        self._transport.write(frame)


def direct_writer(transport: object) -> DirectWriter | None:
    """A writer to ``transport``, or None when it cannot be written to directly."""
    if all(callable(getattr(transport, name, None)) for name in _NEEDED):
        return DirectWriter(cast(_Transport, transport))
    return None


def abort(transport: object) -> None:
    """Drop the connection at once (a peer that stopped reading can hold a graceful
    close forever)."""
    abort = getattr(transport, "abort", None)
    if callable(abort):
        abort()
