"""Where the client stands in its event streams, and the iterator that hands events out.

Each successful ``subscribe`` starts a *group*: the projects it named and the
``seq`` of the last event of those projects the client has received (at first
the reply's ``seq``). Within one group the server delivers events in ``seq``
order, so that single number is an exact resume position: after a reconnect
the client subscribes each group again with ``resume = (epoch, seq)`` and gets
every later event once. An event at or below its group's position is a
duplicate and is dropped.

The tenant scope (tenant-wide events, whose ``project_id`` is empty) is kept
as one more "project" with the key :data:`TENANT_SCOPE`, and the caller's inbox
(``notification`` events, subscribed on their own) with the key
:data:`INBOX_SCOPE`.

While a subscribe is in flight, events of its projects are held back and
released after the reply, so a live event that overtakes the reply is neither
lost nor counted before the group's position is known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from pm_client.errors import ClientError
from pm_proto.v1 import commands_pb2, events_pb2

#: The key of the tenant scope among the project ids (tenant-wide events have no project).
TENANT_SCOPE: Final = ""
#: The key of the caller's inbox (``Subscribe.notifications``) among the project ids.
INBOX_SCOPE: Final = "\x00inbox"


def scope_of(event: events_pb2.Event) -> str:
    """The key of the stream ``event`` belongs to."""
    return INBOX_SCOPE if event.HasField("notification") else event.project_id


def scopes_of(
    message: commands_pb2.Subscribe
    | commands_pb2.SubscribeReply
    | commands_pb2.Unsubscribe
    | commands_pb2.UnsubscribeReply,
) -> list[str]:
    """The project ids of a (un)subscribe command or reply, plus the keys of the tenant
    scope and the inbox."""
    scopes = list(dict.fromkeys(message.project_ids))
    if message.tenant:
        scopes.append(TENANT_SCOPE)
    if message.notifications:
        scopes.append(INBOX_SCOPE)
    return scopes


@dataclass(slots=True)
class _Group:
    project_ids: list[str]
    seq: int


class Positions:
    """The resume position of every subscription of one client."""

    def __init__(self) -> None:
        #: The tenant's epoch of the last subscribe reply ("" before any).
        self.epoch = ""
        #: The highest ``seq`` received or subscribed from, in ``epoch``.
        self.last_seq = 0
        self._groups: dict[str, _Group] = {}  # by project id
        self._subscribing: dict[str, int] = {}  # project id -> subscribes in flight
        self._held: list[events_pb2.Event] = []

    def groups(self) -> list[tuple[list[str], int]]:
        """Each subscription as (project ids, last seq), in subscription order."""
        seen: dict[int, _Group] = {}
        for group in self._groups.values():
            seen.setdefault(id(group), group)
        return [(list(group.project_ids), group.seq) for group in seen.values()]

    @property
    def project_ids(self) -> list[str]:
        return list(self._groups)

    def accept(self, event: events_pb2.Event) -> bool:
        """Whether to hand ``event`` out now (held or duplicate events are not)."""
        if event.seq == 0:  # presence: not stored, not ordered, never replayed
            return True
        scope = scope_of(event)
        if self._subscribing.get(scope):
            self._held.append(event)
            return False
        group = self._groups.get(scope)
        if group is not None:
            if event.seq <= group.seq:
                return False
            group.seq = event.seq
        self.last_seq = max(self.last_seq, event.seq)
        return True

    def begin(self, project_ids: Iterable[str]) -> None:
        """A subscribe for ``project_ids`` is about to be sent."""
        for project_id in project_ids:
            self._subscribing[project_id] = self._subscribing.get(project_id, 0) + 1

    def end(
        self, project_ids: Iterable[str], reply: commands_pb2.SubscribeReply | None
    ) -> list[events_pb2.Event]:
        """The subscribe ended (``reply`` None: it failed); the held events now due."""
        for project_id in project_ids:
            left = self._subscribing.get(project_id, 0) - 1
            if left > 0:
                self._subscribing[project_id] = left
            else:
                self._subscribing.pop(project_id, None)
        if reply is not None:
            self._start_group(reply)
        held, self._held = self._held, []
        return [event for event in held if self.accept(event)]

    def _start_group(self, reply: commands_pb2.SubscribeReply) -> None:
        if reply.epoch != self.epoch:
            self.epoch = reply.epoch
            self.last_seq = reply.seq
        else:
            self.last_seq = max(self.last_seq, reply.seq)
        scopes = scopes_of(reply)
        self._remove(scopes)
        group = _Group(scopes, reply.seq)
        for project_id in group.project_ids:
            self._groups[project_id] = group

    def unsubscribed(self, project_ids: Iterable[str]) -> None:
        self._remove(project_ids)

    def _remove(self, project_ids: Iterable[str]) -> None:
        for project_id in project_ids:
            group = self._groups.pop(project_id, None)
            if group is not None:
                group.project_ids.remove(project_id)


class _End:
    """Marks the end of the stream (the client was closed)."""


END: Final = _End()


@dataclass(frozen=True, slots=True)
class Failed:
    """The client gave up for good: every later read raises ``error``."""

    error: ClientError


#: What the client queues for the iterator: an event, an error to raise once,
#: a final failure, or the end.
Item: TypeAlias = events_pb2.Event | ClientError | Failed | _End


class EventStream:
    """Async iterator over the events of the client's subscriptions, in order.

    Raises :class:`~pm_client.errors.MustRefetch` where a resume was not
    honoured (reload, then iterate again: the stream goes on), a
    :class:`~pm_client.errors.ServerError` where a subscription could not be
    restored after a reconnect, and :class:`~pm_client.errors.ConnectionLost` or
    :class:`~pm_client.errors.ConnectError` once the client gave up. It ends
    when the client is closed. Every stream of one client draws from the same
    queue: iterate from one task.
    """

    def __init__(self, queue: asyncio.Queue[Item]) -> None:
        self._queue = queue

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> events_pb2.Event:
        item = await self._queue.get()
        if isinstance(item, events_pb2.Event):
            return item
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # every later read ends too
            raise StopAsyncIteration
        if isinstance(item, Failed):
            self._queue.put_nowait(item)
            raise item.error
        raise item
