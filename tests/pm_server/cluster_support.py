"""A real cluster for the tests: a Redis of their own and pm processes over one data dir.

Every node is a ``pm serve`` process (``tests/serve_process.py``) with
``PM_REDIS_URL`` set and short leases, so a failover takes a second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import redis.asyncio as aioredis

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_server.ownership import lease_key
from tests.pm_server.crash_support import ServerProcess, TapClient
from tests.redis_process import RedisProcess

#: Seconds a lease lasts in the tests' clusters (renewed every third of it).
LEASE_SECONDS = 1.0
#: The longest a tenant may take to be served again after its owner died.
FAILOVER_DEADLINE = LEASE_SECONDS * 2 + 20

T = TypeVar("T")
_NODE = re.compile(r"node (\S+) at ")


class Node(ServerProcess):
    """One pm process of the cluster (a crash-test server: ``token(user)`` and ``db_path``
    are the crash tenant's, so the crash test's checks run against any node)."""

    def __init__(self, data_dir: Path, log_path: Path, redis_url: str, **settings: str) -> None:
        super().__init__(data_dir, log_path)
        self._env.update(
            {
                "PM_REDIS_URL": redis_url,
                "PM_CLUSTER_LEASE_SECONDS": str(LEASE_SECONDS),
                "PM_HEARTBEAT_SECONDS": "5",
                **{f"PM_{name.upper()}": value for name, value in settings.items()},
            }
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def node_id(self) -> str:
        """Its name in the registry (from the last ``cluster: node ...`` line of its log)."""
        found = _NODE.findall(self.log_path.read_text(errors="replace"))
        assert found, "the node logged no cluster line"
        return str(found[-1])

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)


class Cluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.redis = RedisProcess(root / "redis")
        self.nodes: list[Node] = []
        self.size = size

    async def start(self) -> None:
        self.redis.start()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        load_or_create_signing_key(self.data_dir)  # once, before the nodes race to make it
        for n in range(self.size):
            # The last node keeps one tenant open at a time: its tenants are evicted and
            # reopened all along (their leases must stay while their connections do).
            cap = {"max_open_tenants": "1"} if n == self.size - 1 else {}
            node = Node(self.data_dir, self.root / f"node{n}.log", self.redis.url, **cap)
            self.nodes.append(node)
        await asyncio.gather(*(node.start() for node in self.nodes))

    async def stop(self) -> None:
        try:
            for node in self.nodes:
                with contextlib.suppress(Exception):  # the others and Redis stop anyway
                    await self.restart(node, start=False)
        finally:
            self.redis.kill()

    async def restart(self, node: Node, *, start: bool = True) -> None:
        """Stop ``node`` (drained by SIGTERM; killed if that takes too long), then start it
        again as a new process unless ``start`` is false."""
        with contextlib.suppress(ProcessLookupError):
            if node.proc is not None and node.proc.returncode is None:
                node.proc.send_signal(signal.SIGCONT)  # a stopped node cannot drain
        try:
            await node.stop()
        except TimeoutError:
            await node.kill()
        if start:
            await node.start()

    async def ensure_running(self) -> None:
        """Start again the nodes a test killed, so the next test meets the whole cluster."""
        for node in self.nodes:
            if node.proc is not None and node.proc.returncode is None:
                node.signal(signal.SIGCONT)
            else:
                await node.stop()
                await node.start()
        if self.redis.proc is None:
            self.redis.start()

    def token(self, tenant: str, user: str) -> str:
        key = load_or_create_signing_key(self.data_dir)
        return mint_token(key, tenant_id=tenant, user_id=user, name=user.title())

    def db_path(self, tenant: str) -> Path:
        return self.data_dir / "tenants" / tenant / "main.db"

    async def connect(self, node: Node, tenant: str, user: str) -> TapClient:
        client = await TapClient.connect(node.ws_url, self.token(tenant, user))
        assert isinstance(client, TapClient)
        return client

    async def connect_when_served(
        self, node: Node, tenant: str, user: str, deadline: float = FAILOVER_DEADLINE
    ) -> TapClient:
        """Connect through ``node``, retrying refusals (503: the tenant is between owners)."""
        return await retrying(lambda: self.connect(node, tenant, user), deadline)

    async def lease(self, tenant: str) -> tuple[str, int] | None:
        """(node id, fencing token) of the tenant's lease in Redis, or None."""
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            raw = await client.get(lease_key(tenant))
        finally:
            await client.aclose()
        if raw is None:
            return None
        node_id, token = (raw.decode() if isinstance(raw, bytes) else raw).split(" ")
        return node_id, int(token)

    async def owner(self, tenant: str) -> Node | None:
        found = await self.lease(tenant)
        if found is None:
            return None
        return next((n for n in self.nodes if n.proc is not None and n.node_id() == found[0]), None)


def stored_fence(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM tenant_meta WHERE key = 'fence'").fetchone()
    finally:
        conn.close()
    return 0 if row is None else int(row[0])


async def retrying(attempt: Callable[[], Awaitable[T]], deadline: float) -> T:
    """``attempt()`` until it succeeds; connection refusals and resets are retried until
    ``deadline`` seconds have passed, then the last one is raised."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        try:
            async with asyncio.timeout(10):
                return await attempt()
        except (aiohttp.ClientError, ConnectionError, TimeoutError, AssertionError):
            if loop.time() > end:
                raise
            await asyncio.sleep(0.1)
