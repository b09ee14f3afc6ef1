"""The server's log: text or JSON lines, ids bound per connection, secrets scrubbed.

``PM_LOG_FORMAT=text`` (the default) writes ``time LEVEL logger message``;
``json`` writes one JSON object per line (python-json-logger) with ``time``,
``level``, ``logger``, ``message`` and, when known, the ``tenant``, ``user``,
``conn`` and ``request_id`` of the connection and command the line is about.

Those ids are bound with :func:`bind` into context variables: the WebSocket
handler binds tenant, user and connection once it knows them, and every task
it starts (handlers, the writer) inherits them; a handler binds its request id.
A line about a connection written from another task (the hub closing a slow
consumer) passes the ids as ``extra``, which wins over the bound ones.

Every record goes through :class:`ScrubSecrets` before it is written: pm never
logs a token on purpose, but a library may quote one (aiohttp quotes the
subprotocols a client offered, and a malformed request's bytes), so anything
shaped like a bearer credential is replaced by ``[redacted]``, in the message
and in a traceback alike.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, Literal

from aiohttp.http_exceptions import HttpProcessingError
from pythonjsonlogger.json import JsonFormatter

#: The ids a log line may carry, in the order JSON lines show them.
FIELDS: Final = ("tenant", "user", "conn", "request_id")

_BOUND: Final[dict[str, ContextVar[str | None]]] = {
    name: ContextVar(f"pm_log_{name}", default=None) for name in FIELDS
}

REDACTED: Final = "[redacted]"

#: What a bearer credential looks like wherever it may be quoted: 8 or more token
#: characters after ``Bearer`` (any case, in a header) or ``bearer.`` (a subprotocol);
#: a JWT (three base64url parts, the first a JSON object: ``eyJ``); pm's opaque secrets
#: (``pm<k>.<tenant>.<id>.<secret>``, see :mod:`pm_auth.secrets`); ``access_token=``.
_SECRET: Final = re.compile(
    r"(?i:bearer)[ .]+[A-Za-z0-9._~+/=-]{8,}"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*"
    r"|\bpm[rik]\.[a-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
    r"|(?i:access_token)=[^\s&'\"]+"
)


def scrub(text: str) -> str:
    """``text`` with everything shaped like a credential replaced by ``[redacted]``."""
    return _SECRET.sub(REDACTED, text)


def bind(**ids: str | None) -> None:
    """Bind log ids (``tenant``, ``user``, ``conn``, ``request_id``) for the current
    task and the tasks it starts from now on."""
    for name, value in ids.items():
        _BOUND[name].set(value)


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Bind log ids for the duration of the block."""
    tokens = [(_BOUND[name], _BOUND[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class BoundIds(logging.Filter):
    """Puts the bound ids on each record (an id passed as ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _BOUND.items():
            value = var.get()
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class ScrubSecrets(logging.Filter):
    """Renders the record's message and traceback once, scrubbed of credentials."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class QuietBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a header line over the limit, bytes that
    are not HTTP) at ERROR with a traceback that quotes the bytes: that is the client's
    fault, not the server's, so it becomes one INFO line naming the kind of error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "refused a malformed HTTP request from %s: %d %s"
            record.args = (remote, exc.code or 400, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def handler(log_format: Literal["text", "json"], stream: object = None) -> logging.Handler:
    """A stderr handler writing ``log_format`` lines, with the filters above."""
    out = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if log_format == "json":
        out.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                timestamp="time",  # ISO 8601 in UTC
                rename_fields={"levelname": "level", "name": "logger"},
            )
        )
    else:
        out.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    out.addFilter(ScrubSecrets())
    out.addFilter(BoundIds())
    return out


def configure(level: str, log_format: Literal["text", "json"]) -> None:
    """Send every logger's records to one stderr handler (replacing earlier ones)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietBadRequests) for f in server_log.filters):
        server_log.addFilter(QuietBadRequests())
