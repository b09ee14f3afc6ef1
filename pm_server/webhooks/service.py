"""The delivery workers of every tenant: started, woken, stopped.

One :class:`~pm_server.webhooks.worker.Worker` (an asyncio task) runs per active
endpoint. A tenant's workers are (re)started from its database by
:meth:`WebhookService.refresh`: when the server starts, for every tenant whose
folder holds the ``webhooks`` marker (written while the tenant has endpoints,
so finding them costs a look per tenant folder, not an open per tenant), and
after every change an admin makes to an endpoint. A commit of the tenant wakes
its workers (:meth:`wake`, called by the hub after each commit that stored
events), so a delivery starts as soon as its event is durable.

Workers do not depend on the tenant staying open: they lease the database only
for each read and write, so a tenant the LRU closes keeps delivering (its next
read or write opens it again), and a worker that has caught up waits for a
commit, which only an open tenant can make.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Final

from pm_core.enums import WebhookState
from pm_core.errors import TenantElsewhereError, TenantFencedError, TenantGoneError
from pm_db.tenants import TenantDatabases
from pm_server.settings import Settings
from pm_server.webhooks.sender import Sender
from pm_server.webhooks.worker import Worker

log = logging.getLogger(__name__)

#: In a tenant's folder while it has live endpoints.
MARKER: Final = "webhooks"


class WebhookService:
    def __init__(self, databases: TenantDatabases, settings: Settings) -> None:
        self._databases = databases
        self._settings = settings
        self.sender = Sender(
            timeout=settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private
        )
        self._workers: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._wakes: dict[str, dict[str, asyncio.Event]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshes: set[asyncio.Task[None]] = set()
        #: Tenants whose endpoints were looked up since the server started.
        self.looked_up: set[str] = set()
        self._closed = False

    def start(self) -> int:
        """Start the workers of every tenant marked as having endpoints; returns how many
        tenants. In a cluster (``PM_REDIS_URL``) none: a tenant's owner starts them at the
        tenant's first commit there (:meth:`wake`), so no other process delivers them too."""
        if self._settings.redis_url is not None:
            return 0
        tenants = [t for t in self._databases.paths.tenant_ids() if self._marker(t).exists()]
        for tenant_id in tenants:
            self.refresh(tenant_id)
        return len(tenants)

    def wake(self, tenant_id: str) -> None:
        """The tenant committed events: its workers look for them. The first commit of a
        tenant not looked up yet (one this process took over in a cluster) starts its
        workers when its folder has the marker."""
        if tenant_id not in self.looked_up:
            self.looked_up.add(tenant_id)
            if self._marker(tenant_id).exists():
                self.refresh(tenant_id)
            return
        for event in self._wakes.get(tenant_id, {}).values():
            event.set()

    def refresh(self, tenant_id: str, restart: str | None = None) -> None:
        """Bring the tenant's workers in line with its endpoints (after a change): start
        those of active endpoints, stop the others; ``restart`` one whose settings changed."""
        if self._closed:
            return
        self.looked_up.add(tenant_id)
        task = asyncio.get_running_loop().create_task(
            self._refresh(tenant_id, restart), name=f"pm-webhooks-refresh-{tenant_id}"
        )
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    def workers(self, tenant_id: str) -> set[str]:
        """The endpoints of the tenant with a running worker."""
        return set(self._workers.get(tenant_id, {}))

    async def _refresh(self, tenant_id: str, restart: str | None) -> None:
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            try:
                async with self._databases.use(tenant_id, create=False) as db:
                    webhooks = await db.read(lambda uow: uow.webhooks.list())
            except TenantGoneError:
                webhooks = []
            except (TenantElsewhereError, TenantFencedError):
                self.looked_up.discard(tenant_id)
                return  # its owner delivers
            except Exception:
                log.exception("tenant=%s webhooks could not be loaded", tenant_id)
                return
            active = {w.id for w in webhooks if w.state is WebhookState.ACTIVE}
            workers = self._workers.setdefault(tenant_id, {})
            for webhook_id in list(workers):
                if webhook_id not in active or webhook_id == restart:
                    await self._stop(tenant_id, webhook_id)
            for webhook_id in active - set(workers):
                self._start(tenant_id, webhook_id)
            if not workers:
                self._workers.pop(tenant_id, None)
            self._mark(tenant_id, bool(webhooks))

    def _start(self, tenant_id: str, webhook_id: str) -> None:
        worker = Worker(self._databases, self.sender, self._settings, tenant_id, webhook_id)
        task = asyncio.get_running_loop().create_task(
            worker.run(), name=f"pm-webhook-{tenant_id}-{webhook_id}"
        )
        self._workers.setdefault(tenant_id, {})[webhook_id] = task
        self._wakes.setdefault(tenant_id, {})[webhook_id] = worker.wake

        def forget(done: asyncio.Task[None]) -> None:
            if worker.moved:  # should the tenant come back, its next commit looks again
                self.looked_up.discard(tenant_id)
            workers = self._workers.get(tenant_id, {})
            if workers.get(webhook_id) is done:
                del workers[webhook_id]
                self._wakes.get(tenant_id, {}).pop(webhook_id, None)
                if not workers:
                    self._workers.pop(tenant_id, None)
                    self._wakes.pop(tenant_id, None)

        task.add_done_callback(forget)

    async def _stop(self, tenant_id: str, webhook_id: str) -> None:
        task = self._workers.get(tenant_id, {}).pop(webhook_id, None)
        self._wakes.get(tenant_id, {}).pop(webhook_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _marker(self, tenant_id: str) -> Path:
        return self._databases.paths.tenant_dir(tenant_id) / MARKER

    def _mark(self, tenant_id: str, has_webhooks: bool) -> None:
        marker = self._marker(tenant_id)
        try:
            if has_webhooks:
                if marker.parent.is_dir():
                    marker.touch()
            else:
                marker.unlink(missing_ok=True)
        except OSError:
            log.exception("tenant=%s webhooks marker could not be written", tenant_id)

    async def close(self) -> None:
        """Stop every worker (a delivery cut short is delivered again after a restart)."""
        self._closed = True
        tasks = [*self._refreshes, *(t for w in self._workers.values() for t in w.values())]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._wakes.clear()
        await self.sender.close()
