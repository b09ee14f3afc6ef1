"""Tenant ownership in a cluster: leases and fencing tokens in Redis, and the node registry.

Only built when ``PM_REDIS_URL`` is set (docs/scaling.md); a single process never
imports this module (nor the Redis client).

- **Lease.** ``pm:lease:<tenant>`` holds ``"<node> <token>"`` with a time to live
  (``PM_CLUSTER_LEASE_SECONDS``). It is taken with ``SET NX`` semantics by a Lua
  script that also increments ``pm:fence:<tenant>`` (the fencing token, never
  lower than a floor the caller gives: the token stored in the database, should
  Redis have lost its counters). It is renewed every third of its lifetime while
  the tenant is open here and deleted (only if still ours) when it closes.
- **Local validity.** A lease counts as ours until ``sent + lease * 0.8``, where
  ``sent`` is when the last successful renewal was sent: when Redis cannot be
  reached, the tenants stay served until then, and are let go after (``on_lost``).
  Whatever this clock gets wrong, the fencing token in the database refuses the
  commits of an owner that lost the tenant (:mod:`pm_db.fencing`).
- **Nodes.** ``pm:node:<node>`` holds the node's address (where other nodes relay
  connections), how many tenants it owns and whether it drains, with the same
  time to live, rewritten at each renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from pm_core.errors import TenantElsewhereError, UnavailableError

log = logging.getLogger(__name__)

#: Share of the lease this process trusts without hearing from Redis (clock rates drift).
TRUSTED_SHARE: Final = 0.8

_ACQUIRE: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local owner = string.match(current, '^(%S+)')
  if owner ~= ARGV[1] then return {0, owner} end
end
local floor = tonumber(ARGV[3])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if counter < floor then redis.call('SET', KEYS[2], floor) end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return {1, tostring(token)}
"""
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def lease_key(tenant_id: str) -> str:
    return f"pm:lease:{tenant_id}"


def fence_key(tenant_id: str) -> str:
    return f"pm:fence:{tenant_id}"


def node_key(node_id: str) -> str:
    return f"pm:node:{node_id}"


def redacted(url: str) -> str:
    """The Redis URL without its password, for the log."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


@dataclass(slots=True)
class _Held:
    token: int
    #: Monotonic time until which the lease is ours without hearing from Redis again.
    valid_until: float
    acquired: float


class Ownership:
    """This process's leases, its entry in the node registry, and where other tenants live.

    ``in_use(tenant)`` says whether the tenant is open here (a lease acquired for a
    connection that never opened the tenant is let go after one lease time);
    ``on_lost(tenant)`` is called when a lease is no longer ours (renewal refused, or
    not renewed in time): the server closes the tenant and its connections.
    """

    def __init__(
        self,
        redis_url: str,
        node_id: str,
        *,
        lease_seconds: float,
        in_use: Callable[[str], bool],
        on_lost: Callable[[str], None],
    ) -> None:
        self.node_id = node_id
        self.address = ""
        self.draining = False
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._lease = lease_seconds
        self._in_use = in_use
        self._on_lost = on_lost
        self._serving: Callable[[str], bool] = lambda tenant_id: False
        timeout = max(0.2, lease_seconds / 4)  # a hung Redis must not outlive a lease
        self._redis = aioredis.Redis.from_url(
            redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._held: dict[str, _Held] = {}
        self._releases: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._url = redacted(redis_url)

    def on_lost_callback(self, on_lost: Callable[[str], None]) -> None:
        self._on_lost = on_lost

    def serving_callback(self, serving: Callable[[str], bool]) -> None:
        """``serving(tenant)``: this process has connections of the tenant open. Their
        tenant's lease is kept when its database closes (evicted from the LRU): another
        process taking it would leave them answering UNAVAILABLE and their subscribers
        missing its events."""
        self._serving = serving

    async def announce(self) -> None:
        """Rewrite the node entry now (after a change of ``draining``)."""
        with contextlib.suppress(RedisError):
            await self._register()

    # -- what the server asks --------------------------------------------------

    def owned(self) -> list[str]:
        return sorted(self._held)

    def owns(self, tenant_id: str) -> bool:
        """True while this process serves ``tenant_id`` (never while it drains)."""
        held = self._held.get(tenant_id)
        return held is not None and held.valid_until > time.monotonic() and not self.draining

    async def route(self, tenant_id: str) -> str | None:
        """None when this process serves ``tenant_id`` (it owns it, or just took it);
        else the address of the process to relay to. TenantElsewhereError (retryable)
        when there is none to name (the owner's node entry expired, or every other
        node drains too), UnavailableError when Redis cannot be reached."""
        if self.owns(tenant_id):
            return None
        try:
            current = await self._redis.get(lease_key(tenant_id))
            owner = None if current is None else _text(current).split(" ", 1)[0]
            if owner is None and self.draining:  # hand it to another node, which takes it
                address = await self._other_node()
            else:
                if owner is None or owner == self.node_id:
                    try:
                        await self.acquire(tenant_id, 0)  # refused while draining
                        return None
                    except TenantElsewhereError as taken:  # another node was faster
                        if taken.owner is None:
                            raise
                        owner = taken.owner
                address = await self._address_of(owner)
        except RedisError as exc:
            raise UnavailableError("the cluster's Redis cannot be reached; retry") from exc
        if address is None:
            raise TenantElsewhereError(tenant_id)
        return address

    async def acquire(self, tenant_id: str, above: int) -> int:
        """A fencing token above ``above`` for ``tenant_id``, taking its lease if needed
        (:class:`pm_db.fencing.FenceSource`)."""
        if self.draining:  # it takes no tenant, not even one it still holds
            raise TenantElsewhereError(tenant_id)
        held = self._held.get(tenant_id)
        now = time.monotonic()
        if held is not None and held.valid_until > now and held.token > above:
            return held.token
        try:
            ok, value = await self._acquire(
                keys=[lease_key(tenant_id), fence_key(tenant_id)],
                args=[self.node_id, self._lease_ms, above],
            )
        except RedisError as exc:
            raise UnavailableError("the cluster's Redis cannot be reached; retry") from exc
        if not ok:
            raise TenantElsewhereError(tenant_id, _text(value))
        token = int(value)
        self._held[tenant_id] = _Held(token, now + self._lease * TRUSTED_SHARE, now)
        log.info("tenant=%s lease taken (fencing token %d)", tenant_id, token)
        return token

    def released(self, tenant_id: str, token: int) -> None:
        """The tenant's database closed here: let its lease go (if it is still this one)."""
        held = self._held.get(tenant_id)
        if held is None or held.token != token:
            return
        if self._serving(tenant_id) and not self.draining:  # kept while they are open
            return
        del self._held[tenant_id]
        task = asyncio.get_running_loop().create_task(self._let_go(tenant_id, token))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _let_go(self, tenant_id: str, token: int) -> None:
        try:
            deleted = await self._release(
                keys=[lease_key(tenant_id)], args=[f"{self.node_id} {token}"]
            )
        except RedisError as exc:  # it expires on its own
            log.warning("tenant=%s lease not released (%s): it expires", tenant_id, exc)
            return
        if deleted:
            log.info("tenant=%s lease released", tenant_id)

    # -- the node's life -------------------------------------------------------

    async def start(self, address: str) -> None:
        """Register this node (``address`` is where others relay to) and keep its leases."""
        self.address = address
        try:
            await self._register()
        except RedisError as exc:  # serve anyway: the renewal loop retries
            log.warning("cluster: Redis at %s cannot be reached yet (%s)", self._url, exc)
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="pm-leases")
        log.info(
            "cluster: node %s at %s, Redis %s, leases of %gs",
            self.node_id,
            address,
            self._url,
            self._lease,
        )

    async def close(self) -> None:
        """Stop renewing, drop the node entry and every lease still held."""
        self.draining = True  # every lease goes now, whatever connections are left
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for tenant_id, held in list(self._held.items()):
            self.released(tenant_id, held.token)
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        with contextlib.suppress(RedisError):
            await self._redis.delete(node_key(self.node_id))
        await self._redis.aclose()

    async def _register(self) -> None:
        entry = {"address": self.address, "tenants": len(self._held), "draining": self.draining}
        await self._redis.set(node_key(self.node_id), json.dumps(entry), px=self._lease_ms * 2)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self.renew()
            except Exception:
                log.exception("cluster: lease renewal failed")

    async def renew(self) -> None:
        """Renew every lease held (one round trip), let go of the unused ones and of those
        no longer ours, and rewrite the node entry."""
        now = time.monotonic()
        for tenant_id, held in list(self._held.items()):
            idle = not (self._in_use(tenant_id) or self._serving(tenant_id))
            if idle and now - held.acquired > self._lease:
                self.released(tenant_id, held.token)
        tenants = list(self._held.items())
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for tenant_id, held in tenants:
                    await self._renew(  # queued in the pipeline
                        keys=[lease_key(tenant_id)],
                        args=[f"{self.node_id} {held.token}", self._lease_ms],
                        client=pipe,
                    )
                results = await pipe.execute() if tenants else []
            await self._register()
        except RedisError as exc:
            expired = [t for t, h in self._held.items() if h.valid_until <= time.monotonic()]
            log.warning(
                "cluster: Redis cannot be reached (%s); %d tenants kept while their leases "
                "last, %d let go",
                exc.__class__.__name__,
                len(self._held) - len(expired),
                len(expired),
            )
            for tenant_id in expired:
                self._lose(tenant_id, "its lease could not be renewed in time")
            return
        for (tenant_id, held), renewed in zip(tenants, results, strict=True):
            if self._held.get(tenant_id) is not held:
                continue
            if renewed:
                held.valid_until = now + self._lease * TRUSTED_SHARE
            else:
                self._lose(tenant_id, "its lease is no longer ours")

    def _lose(self, tenant_id: str, why: str) -> None:
        if self._held.pop(tenant_id, None) is None:
            return
        log.warning("tenant=%s let go: %s", tenant_id, why)
        self._on_lost(tenant_id)

    # -- where the others are ----------------------------------------------------

    async def _address_of(self, node_id: str) -> str | None:
        raw = await self._redis.get(node_key(node_id))
        if raw is None:
            return None
        address = json.loads(raw).get("address")
        return address if isinstance(address, str) and address else None

    async def nodes(self) -> dict[str, dict[str, object]]:
        """Every registered node's entry (its address, tenants, draining)."""
        found: dict[str, dict[str, object]] = {}
        async for key in self._redis.scan_iter(match=node_key("*"), count=100):
            raw = await self._redis.get(key)
            if raw is not None:
                found[key.decode().removeprefix(node_key(""))] = json.loads(raw)
        return found

    async def _other_node(self) -> str | None:
        """The address of the live node, not this one and not draining, owning fewest
        tenants (where a draining node sends tenants nobody owns)."""
        candidates = [
            (int(str(entry.get("tenants", 0))), str(entry["address"]))
            for node_id, entry in (await self.nodes()).items()
            if node_id != self.node_id and not entry.get("draining") and entry.get("address")
        ]
        return min(candidates)[1] if candidates else None
