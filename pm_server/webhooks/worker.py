"""One endpoint's deliveries: its events in seq order, each until the receiver takes it.

The worker reads the events after the endpoint's ``acked_seq`` from the tenant's
event log, a batch at a time, and posts each one the endpoint wants; an event
is retried (exponential backoff with jitter) until a 2xx answer, so events go
out in order and none is skipped. The position moves forward in the tenant
database with the delivery log rows, every :data:`ACK_EVERY` deliveries and
whenever the worker stops to wait or to retry: a restart delivers again at
most the deliveries since the last write (at least once, never none).
A failed attempt is written at once with the failure count; at
``PM_WEBHOOK_MAX_FAILURES`` in a row the endpoint is disabled and the worker ends.

The tenant database is leased only for each read and write, never across an
HTTP request: an idle tenant can be closed by the LRU while its endpoint
retries, and the next write opens it again. A tenant that moved to another pm
process (a cluster) ends the worker there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, TypeVar

from pm_core.enums import WebhookState
from pm_core.errors import (
    NotFoundError,
    PmError,
    TenantElsewhereError,
    TenantFencedError,
    TenantGoneError,
)
from pm_core.models import StoredEvent, Webhook
from pm_core.webhooks import WebhookDelivery, retry_delay
from pm_db.codec import new_id
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork
from pm_proto import enums as pb_enums
from pm_proto.v1 import events_pb2
from pm_server.settings import Settings
from pm_server.webhooks.sender import Outcome, Sender, body_of

log = logging.getLogger(__name__)

#: Events read from the log at a time.
BATCH: Final = 500
#: Deliveries between two writes of the position.
ACK_EVERY: Final = 100
#: Seconds to wait before trying again when the tenant is unavailable (busy, under maintenance).
UNAVAILABLE_PAUSE: Final = 1.0

T = TypeVar("T")


class Gone(Exception):
    """The endpoint is no longer active (paused, disabled, deleted) or its tenant is gone."""


class Worker:
    def __init__(
        self,
        databases: TenantDatabases,
        sender: Sender,
        settings: Settings,
        tenant_id: str,
        webhook_id: str,
    ) -> None:
        self._databases = databases
        self._sender = sender
        self._settings = settings
        self.tenant_id = tenant_id
        self.webhook_id = webhook_id
        #: Set when the tenant committed something: there may be events to deliver.
        self.wake = asyncio.Event()
        #: Deliveries taken by the receiver and not yet written, with the position they
        #: moved to; written every ACK_EVERY, before a wait and with a failure.
        self._done: list[WebhookDelivery] = []
        self._position = 0
        self._acked = 0
        #: Ended because another pm process took the tenant over.
        self.moved = False

    async def run(self) -> None:
        while True:
            try:
                await self._serve()
            except Gone:
                return
            except PmError as exc:
                if not exc.retryable:
                    log.warning(
                        "tenant=%s webhook=%s deliveries stopped: %s",
                        self.tenant_id,
                        self.webhook_id,
                        exc.code,
                    )
                    return
                await asyncio.sleep(UNAVAILABLE_PAUSE)
            except Exception:
                log.exception("tenant=%s webhook=%s worker failed", self.tenant_id, self.webhook_id)
                return

    async def _serve(self) -> None:
        while True:
            self.wake.clear()  # before the read: a commit after it wakes the next wait
            webhook, secret, events = await self._load()
            if not events:
                await self._ack()
                await self.wake.wait()
                continue
            await self._deliver(webhook, secret, events)

    async def _load(self) -> tuple[Webhook, str, list[StoredEvent]]:
        def read(uow: UnitOfWork) -> tuple[Webhook, str, list[StoredEvent]]:
            try:
                webhook, secret = uow.webhooks.get_with_secret(self.webhook_id)
            except NotFoundError:
                raise Gone from None
            if webhook.state is not WebhookState.ACTIVE:
                raise Gone
            # Past what was delivered and not yet written, too.
            start = max(webhook.acked_seq, self._position)
            return webhook, secret, uow.events.after(start, limit=BATCH)

        webhook, secret, events = await self._with_db(read, write=False)
        self._acked = max(self._acked, webhook.acked_seq)
        self._position = max(self._position, webhook.acked_seq)
        return webhook, secret, events

    async def _deliver(self, webhook: Webhook, secret: str, events: list[StoredEvent]) -> None:
        for stored in events:
            event = events_pb2.Event.FromString(stored.payload)
            wanted = webhook.wants(
                event.project_id or None,
                pb_enums.ENTITY_TYPE.from_pb(event.entity_type, "entity_type"),
                pb_enums.ACTION.from_pb(event.action, "action"),
            )
            if wanted:
                await self._until_taken(webhook, secret, stored.seq, body_of(event))
            self._position = stored.seq
            if len(self._done) >= ACK_EVERY:
                await self._ack()

    async def _until_taken(self, webhook: Webhook, secret: str, seq: int, body: bytes) -> None:
        attempt = 1
        while True:
            outcome = await self._sender.send(webhook.url, secret, webhook.id, seq, body)
            delivery = self._row(seq, attempt, outcome)
            if outcome.ok:
                self._done.append(delivery)
                return
            if await self._fail(delivery, outcome.error or "failed"):
                log.warning(
                    "tenant=%s webhook=%s disabled after %d failed deliveries in a row",
                    self.tenant_id,
                    webhook.id,
                    self._settings.webhook_max_failures,
                )
                raise Gone
            settings = self._settings
            await asyncio.sleep(
                retry_delay(
                    attempt, settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds
                )
            )
            attempt += 1

    def _row(
        self, seq: int, attempt: int, outcome: Outcome, manual: bool = False
    ) -> WebhookDelivery:
        return row_of(self.webhook_id, seq, attempt, outcome, manual)

    async def _ack(self) -> None:
        position = self._position
        if position <= self._acked and not self._done:
            return
        done, self._done = self._done, []

        def write(uow: UnitOfWork) -> None:
            uow.webhooks.ack(self.webhook_id, position)
            uow.webhook_deliveries.record(done)

        await self._with_db(write, write=True)
        self._acked = position

    async def _fail(self, failed: WebhookDelivery, error: str) -> bool:
        position = self._position
        done, self._done = self._done, []
        max_failures = self._settings.webhook_max_failures

        def write(uow: UnitOfWork) -> bool:
            if position > self._acked:
                uow.webhooks.ack(self.webhook_id, position)
            uow.webhook_deliveries.record((*done, failed))
            return uow.webhooks.fail(self.webhook_id, error, max_failures)

        disabled = await self._with_db(write, write=True)
        self._acked = max(self._acked, position)
        return disabled

    async def _with_db(self, fn: Callable[[UnitOfWork], T], *, write: bool) -> T:
        try:
            async with self._databases.use(self.tenant_id, create=False) as db:
                return await (db.write(fn) if write else db.read(fn))
        except TenantGoneError:
            raise Gone from None
        except (TenantElsewhereError, TenantFencedError):
            # Served by another pm process now: its owner delivers from the acknowledged
            # position (what was taken here and not yet written, again).
            self.moved = True
            raise Gone from None


def row_of(
    webhook_id: str, seq: int, attempt: int, outcome: Outcome, manual: bool = False
) -> WebhookDelivery:
    return WebhookDelivery(
        id=new_id(),
        webhook_id=webhook_id,
        seq=seq,
        attempt=attempt,
        ok=outcome.ok,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        manual=manual,
        created_at=datetime.now(UTC),
    )
