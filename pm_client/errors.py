"""Everything the client raises.

::

    ClientError
    ├── ServerError       the server answered a request with an Error (code, field, rule, ...)
    ├── ConnectError      the server cannot be reached, or refused the upgrade (status, code)
    ├── RequestTimeout    no answer within the request timeout (request_id: reuse it to retry)
    ├── ConnectionLost    the connection dropped and the request cannot be carried over
    └── MustRefetch       the event stream could not resume: reload, then keep iterating

Errors carry structured attributes; their text is for people.
"""

from __future__ import annotations

from pm_proto.v1 import envelope_pb2


class ClientError(Exception):
    """Base of everything the client raises."""


class ServerError(ClientError):
    """The server answered with an ``Error``; ``error`` is the whole message."""

    def __init__(self, error: envelope_pb2.Error, command: str = "") -> None:
        self.error = error
        self.code: str = envelope_pb2.ErrorCode.Name(error.code)
        self.message: str = error.message
        self.retryable: bool = error.retryable
        self.command = command
        super().__init__(f"{self.code}: {error.message}")

    @property
    def request_id(self) -> str:
        return self.error.request_id

    @property
    def field(self) -> str:
        """The invalid field (``VALIDATION_ERROR``); "" when none."""
        return self.error.field

    @property
    def rule(self) -> str:
        """The broken rule, e.g. ``dependency.cycle`` or ``role.editor``; "" when none."""
        return self.error.rule


class ConnectError(ClientError):
    """The server cannot be reached, or it refused the WebSocket upgrade.

    ``status`` is the HTTP status of a refusal (``None`` when there was no
    answer at all) and ``code`` the ``code`` of its JSON body, e.g.
    ``UNAUTHENTICATED`` for 401 or ``UNAVAILABLE`` for 503 while draining.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    @property
    def permanent(self) -> bool:
        """True when trying again cannot help (a 4xx other than 429: bad token, wrong URL)."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


class RequestTimeout(ClientError):
    """No reply within the timeout.

    A mutation may or may not have been applied: send it again with the same
    ``request_id`` (``PmClient.request(..., request_id=...)``) and the server
    either applies it once or returns the stored first reply.
    """

    def __init__(self, command: str, request_id: str, timeout: float) -> None:
        super().__init__(f"no reply to {command} (request {request_id}) within {timeout:g}s")
        self.command = command
        self.request_id = request_id
        self.timeout = timeout


class ConnectionLost(ClientError):
    """The connection is gone and this request or stream cannot continue on it.

    Raised when reconnecting is off, after ``close()``, for commands whose
    effect belongs to one connection (subscribe, unsubscribe, presence) when
    the connection drops under them, and when the server closed the connection
    for good (``close_code``).
    """

    def __init__(self, message: str, *, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code


class MustRefetch(ClientError):
    """The server could not resume the event stream where the client stood.

    The tenant was restored from a backup (another ``epoch``), or the events
    after the client's position are no longer stored. The stream continues
    live after ``seq`` in ``epoch``: reload what you show with snapshot
    queries, then keep iterating the same stream.
    """

    def __init__(self, epoch: str, seq: int) -> None:
        super().__init__(f"events could not be resumed; live again from seq {seq} (epoch {epoch})")
        self.epoch = epoch
        self.seq = seq
