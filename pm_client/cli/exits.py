"""Exit codes of the client commands and the one line printed for each failure.

One code per class of failure, shared with ``pm tenant`` where the classes
overlap (usage 2, not found 3, conflict 4, busy 6), so a script can branch on
``$?`` whichever ``pm`` command it ran. README.md ("Exit codes") lists them.
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_client.errors import (
    ClientError,
    ConnectError,
    ConnectionLost,
    RequestTimeout,
    ServerError,
)

OK: Final = 0
#: Anything unexpected: INTERNAL from the server, a bug in the client.
FAILED: Final = 1
#: Bad arguments, or input the server refused (VALIDATION_ERROR, INVALID_MESSAGE).
USAGE: Final = 2
NOT_FOUND: Final = 3
#: CONFLICT (stale --version, duplicate key) and DELETE_BLOCKED.
CONFLICT: Final = 4
#: 5 is ``pm tenant``'s "invalid file"; the client commands do not use it.
#: UNAVAILABLE, RATE_LIMITED, or no reply in time: the server is busy; try again later.
BUSY: Final = 6
#: The server cannot be reached (down, wrong URL) or the connection was lost for good.
UNREACHABLE: Final = 7
#: No token, or the server refused it (bad signature, expired, wrong tenant claim), or
#: closed the connection because it expired (4001) or its API key was revoked (4003).
UNAUTHENTICATED: Final = 8
#: The token's user may not do this (role too low).
FORBIDDEN: Final = 9

#: Server error codes -> exit codes.
SERVER_CODES: Final[dict[str, int]] = {
    "INVALID_MESSAGE": USAGE,
    "VALIDATION_ERROR": USAGE,
    "UNAUTHENTICATED": UNAUTHENTICATED,
    "FORBIDDEN": FORBIDDEN,
    "RATE_LIMITED": BUSY,
    "NOT_FOUND": NOT_FOUND,
    "CONFLICT": CONFLICT,
    "DELETE_BLOCKED": CONFLICT,
    "UNAVAILABLE": BUSY,
    "INTERNAL": FAILED,
}

#: Close codes that end a connection for its credentials -> exit codes.
_CLOSES: Final[dict[int, int]] = {4001: UNAUTHENTICATED, 4003: UNAUTHENTICATED}

#: HTTP statuses of a refused WebSocket upgrade -> exit codes.
_REFUSALS: Final[dict[int, int]] = {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: BUSY, 503: BUSY}


class UsageError(Exception):
    """The command line names something wrongly (exit 2)."""


class NoToken(Exception):
    """Neither --token nor PM_TOKEN (exit 8)."""


class NotFound(Exception):
    """A name given on the command line matches nothing (exit 3)."""


def exit_code(error: BaseException) -> int:
    """The exit code of a failure."""
    if isinstance(error, ServerError):
        return SERVER_CODES.get(error.code, FAILED)
    if isinstance(error, ConnectError):
        if error.status is None:
            return UNREACHABLE
        if error.code is not None and error.code in SERVER_CODES:
            return SERVER_CODES[error.code]
        return _REFUSALS.get(error.status, UNREACHABLE)
    if isinstance(error, RequestTimeout):
        return BUSY
    if isinstance(error, ConnectionLost):
        return _CLOSES.get(error.close_code or 0, UNREACHABLE)
    if isinstance(error, UsageError | argparse.ArgumentTypeError):
        return USAGE
    if isinstance(error, NoToken):
        return UNAUTHENTICATED
    if isinstance(error, NotFound):
        return NOT_FOUND
    return FAILED


def describe(error: BaseException) -> str:
    """The one line (without the ``pm:`` prefix) that tells what went wrong."""
    if isinstance(error, ServerError):
        return _server_line(error)
    if isinstance(error, ConnectError):
        if error.status is None:
            return f"{error.message} (is the server running? check --url or PM_URL)"
        return error.message
    if isinstance(error, NotFound):
        return f"NOT_FOUND: {error}"
    if isinstance(error, ConnectionLost) and error.close_code == 4001:
        return f"UNAUTHENTICATED: {error}: get a fresh token (PM_TOKEN), or use an API key"
    if isinstance(error, ConnectionLost) and error.close_code == 4003:
        return f"UNAUTHENTICATED: {error}"
    if isinstance(error, ClientError | UsageError | NoToken | argparse.ArgumentTypeError):
        return str(error)
    return f"unexpected error: {type(error).__name__}: {error}"


def _server_line(error: ServerError) -> str:
    e = error.error
    line = f"{error.code}: {error.message or 'no message'}"
    extra = []
    if error.code == "VALIDATION_ERROR" and e.field and e.field not in error.message:
        extra.append(f"field {e.field}")
    if e.rule and e.rule not in error.message:
        extra.append(f"rule {e.rule}")
    if e.path:
        extra.append("path " + " > ".join(e.path))
    if error.code == "CONFLICT" and e.current_version:
        extra.append(f"current version {e.current_version}")
    if e.blockers:
        extra.append(f"blocked by {len(e.blockers)}")
    if e.retry_after_ms:
        extra.append(f"retry after {e.retry_after_ms} ms")
    if e.error_id:
        extra.append(f"error id {e.error_id}")
    if extra:
        line += f" ({'; '.join(extra)})"
    return line
