"""The hub: who is subscribed to which project, and who is present where.

``publish`` is called once per committed event, in commit order (by the
database's ``on_commit`` hook). The event is already encoded; the hub hands
the same bytes to every subscriber's bounded queue without awaiting anything,
so a slow subscriber never delays the others (its own queue overflows and it
is closed instead).

Subscriptions and presence change only through the hub, which keeps its
index and each connection's :class:`~pm_server.session.Session` in step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import events_pb2

if TYPE_CHECKING:
    from datetime import datetime

    from pm_server.connection import Connection
    from pm_server.session import Subscription


Topic = tuple[str, str]  # (tenant id, project id)


class Hub:
    def __init__(self, on_publish: Callable[[], None] | None = None) -> None:
        self._subscribers: dict[Topic, set[Connection]] = {}
        self._present: dict[Topic, Counter[str]] = {}
        self._on_publish = on_publish
        #: Told the tenant after each commit that stored events (webhook deliveries wake).
        self.on_commit: Callable[[str], None] | None = None

    # -- subscriptions -----------------------------------------------------
    # The hub's index and each connection's session change together, here only.

    def subscribe(
        self, tenant_id: str, project_id: str, connection: Connection
    ) -> Subscription | None:
        """Subscribe ``connection`` to the project: its new subscription (replaying until
        the caller makes it live), or None when it already was subscribed (that
        subscription goes on unchanged)."""
        subscription = connection.session.subscribe(project_id)
        if subscription is not None:
            self._subscribers.setdefault((tenant_id, project_id), set()).add(connection)
        return subscription

    def unsubscribe(
        self,
        tenant_id: str,
        project_id: str,
        connection: Connection,
        subscription: Subscription | None = None,
    ) -> bool:
        """End the connection's subscription to the project (only if it still is
        ``subscription``, when given). False when there was none."""
        if not connection.session.unsubscribe(project_id, subscription):
            return False
        self._forget(tenant_id, project_id, connection)
        return True

    def unsubscribe_all(self, tenant_id: str, connection: Connection) -> None:
        for project_id in connection.session.unsubscribe_all():
            self._forget(tenant_id, project_id, connection)

    def _forget(self, tenant_id: str, project_id: str, connection: Connection) -> None:
        topic = (tenant_id, project_id)
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(connection)
            if not subscribers:
                del self._subscribers[topic]

    def drop(self, tenant_id: str, project_id: str, user_id: str | None = None) -> None:
        """End subscriptions to a project: of one user who lost access, or of everyone
        (the project was deleted). Tenant admins keep access and are not dropped for a
        membership change."""
        topic = (tenant_id, project_id)
        for connection in tuple(self._subscribers.get(topic, ())):
            principal = connection.principal
            if user_id is not None and (principal.user_id != user_id or principal.is_tenant_admin):
                continue
            self.unsubscribe(tenant_id, project_id, connection)

    def subscriber_count(self, tenant_id: str, project_id: str) -> int:
        return len(self._subscribers.get((tenant_id, project_id), ()))

    def committed(self, tenant_id: str) -> None:
        """A commit of the tenant stored events (called once per commit, after its publishes)."""
        if self.on_commit is not None:
            self.on_commit(tenant_id)

    def publish(self, tenant_id: str, project_id: str, seq: int, event: bytes) -> None:
        """Hand one committed, encoded event to every subscriber of its project."""
        if self._on_publish is not None:
            self._on_publish()
        subscribers = self._subscribers.get((tenant_id, project_id))
        if not subscribers:
            return
        for connection in tuple(subscribers):
            connection.deliver(project_id, seq, event)

    # -- presence ----------------------------------------------------------

    def join(self, tenant_id: str, project_id: str, connection: Connection, now: datetime) -> None:
        """Mark the connection present in the project (a user is present while any of
        their connections is)."""
        if not connection.session.join(project_id):
            return
        user_id = connection.principal.user_id
        present = self._present.setdefault((tenant_id, project_id), Counter())
        present[user_id] += 1
        if present[user_id] == 1:
            self._announce(tenant_id, project_id, user_id, True, now)

    def leave(self, tenant_id: str, project_id: str, connection: Connection, now: datetime) -> None:
        if connection.session.leave(project_id):
            self._leave(tenant_id, project_id, connection.principal.user_id, now)

    def leave_all(self, tenant_id: str, connection: Connection, now: datetime) -> None:
        for project_id in connection.session.leave_all():
            self._leave(tenant_id, project_id, connection.principal.user_id, now)

    def _leave(self, tenant_id: str, project_id: str, user_id: str, now: datetime) -> None:
        topic = (tenant_id, project_id)
        present = self._present.get(topic)
        if present is None or present[user_id] == 0:
            return
        present[user_id] -= 1
        if present[user_id] == 0:
            del present[user_id]
            if not present:
                del self._present[topic]
            self._announce(tenant_id, project_id, user_id, False, now)

    def present_users(self, tenant_id: str, project_id: str) -> list[str]:
        return sorted(self._present.get((tenant_id, project_id), ()))

    def _announce(
        self, tenant_id: str, project_id: str, user_id: str, present: bool, now: datetime
    ) -> None:
        event = events_pb2.Event(
            seq=0,
            project_id=project_id,
            actor_id=user_id,
            occurred_at=to_timestamp(now),
            presence=events_pb2.Presence(user_id=user_id, present=present),
        ).SerializeToString()
        for connection in tuple(self._subscribers.get((tenant_id, project_id), ())):
            connection.deliver(project_id, 0, event)
