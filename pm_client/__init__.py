"""Async client library (and the ``pm`` client command line) for pm servers.

See :class:`pm_client.client.PmClient`; everything it raises is in :mod:`pm_client.errors`.
"""

from pm_client.client import PmClient
from pm_client.commands import COMMANDS, Command
from pm_client.errors import (
    ClientError,
    ConnectError,
    ConnectionLost,
    MustRefetch,
    RequestTimeout,
    ServerError,
)
from pm_client.events import EventStream

__all__ = [
    "COMMANDS",
    "ClientError",
    "Command",
    "ConnectError",
    "ConnectionLost",
    "EventStream",
    "MustRefetch",
    "PmClient",
    "RequestTimeout",
    "ServerError",
]
