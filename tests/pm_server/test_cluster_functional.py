"""Three pm processes and a real Redis (docs/scaling.md): any process serves any tenant,
an owner killed with -9 or paused is replaced without losing an acknowledged write, and
a Redis restart loses nothing and never lets two processes commit for one tenant.

The module shares one cluster (Redis and three nodes); each test leaves it whole.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.cluster_support import (
    FAILOVER_DEADLINE,
    LEASE_SECONDS,
    Cluster,
    Node,
    retrying,
    stored_fence,
)
from tests.pm_server.crash_support import (
    TENANT,
    USERS,
    TapClient,
    Writer,
    check_store,
    connect,
    read_store,
)
from tests.pm_server.test_crash_functional import SEED, Totals, set_up, verify_after_restart

# The crash test's own steps: its tenant set up, and its checks after a crash.
from tests.pm_server.wsclient import ServerError
from tests.serve_process import SERVING

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        await found.start()
        yield found
    finally:
        await found.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def whole(cluster: Cluster) -> AsyncIterator[Cluster]:
    """The shared cluster, made whole again after the test (killed nodes restarted)."""
    yield cluster
    await cluster.ensure_running()


async def create_project(client: TapClient, key: str) -> entities_pb2.Project:
    reply = await client.request("create_project", commands_pb2.CreateProject(key=key, name=key))
    return reply.project.project


async def create_item(client: TapClient, project_id: str, title: str) -> entities_pb2.WorkItem:
    reply = await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_TASK, title=title
        ),
    )
    return reply.work_item.item


class Load:
    """Creates items in one tenant through one node until stopped, reconnecting whenever its
    connection is refused or closed (as a client does), keeping what was acknowledged."""

    def __init__(
        self, cluster: Cluster, tenant: str, project_id: str, through: Node, stop: asyncio.Event
    ) -> None:
        self.cluster = cluster
        self.tenant = tenant
        self.project_id = project_id
        self.through = through
        self.stop = stop
        self.acked: list[str] = []
        self.refusals = 0
        self.reconnects = 0
        self.longest_pause = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        n = 0
        while not self.stop.is_set():
            try:
                client = await self.cluster.connect_when_served(self.through, self.tenant, "alice")
            except (aiohttp.ClientError, ConnectionError, TimeoutError):
                self.refusals += 1
                continue
            self.reconnects += 1
            try:
                while not self.stop.is_set():
                    n += 1
                    message = await client.call(
                        "create_work_item",
                        commands_pb2.CreateWorkItem(
                            project_id=self.project_id,
                            type=entities_pb2.WORK_ITEM_TYPE_TASK,
                            title=f"{self.tenant} {n}",
                        ),
                        timeout=10,
                    )
                    if message.WhichOneof("kind") == "reply":
                        self.acked.append(message.reply.work_item.item.id)
                        now = loop.time()
                        self.longest_pause = max(self.longest_pause, now - last)
                        last = now
                    else:
                        assert message.error.retryable, message.error
                        self.refusals += 1
                        await asyncio.sleep(0.05)
            except (ConnectionError, TimeoutError):
                self.refusals += 1
            finally:
                await client.close()


class Watcher:
    """A subscriber of one project that resumes from its last seq after every close."""

    def __init__(self, cluster: Cluster, tenant: str, project_id: str, through: Node) -> None:
        self.cluster = cluster
        self.tenant = tenant
        self.project_id = project_id
        self.through = through
        self.seqs: list[int] = []
        self.resumes = 0
        self.epoch = ""
        #: The seq the first subscription started at: every later event must arrive once.
        self.start: int | None = None
        self.stopping = False

    async def run(self) -> None:
        while not self.stopping:
            try:
                client = await self.cluster.connect_when_served(self.through, self.tenant, "alice")
            except (aiohttp.ClientError, ConnectionError, TimeoutError):
                continue
            try:
                command = commands_pb2.Subscribe(project_ids=[self.project_id])
                if self.epoch:  # from the last event seen, or from where it started
                    seen = self.seqs[-1] if self.seqs else self.start or 0
                    command.resume.CopyFrom(commands_pb2.ResumePosition(epoch=self.epoch, seq=seen))
                    self.resumes += 1
                try:
                    reply = await client.request("subscribe", command)
                except ServerError as exc:  # the tenant is moving: reconnect
                    if not exc.error.retryable:
                        raise
                    await asyncio.sleep(0.05)
                    continue
                assert not reply.subscribed.must_refetch
                self.epoch = reply.subscribed.epoch
                if self.start is None:
                    self.start = reply.subscribed.seq
                while not self.stopping:
                    try:
                        event = await asyncio.wait_for(client.events.get(), 0.2)
                    except TimeoutError:
                        if client.dead:
                            break
                        continue
                    self.seqs.append(event.seq)
            except (ConnectionError, TimeoutError):
                pass
            finally:
                await client.close()


async def test_every_process_serves_every_tenant(whole: Cluster) -> None:
    a, b, c = whole.nodes
    # The first connection of a tenant makes the process it reached the owner.
    first_a = await whole.connect(a, "north", "alice")
    first_b = await whole.connect(b, "south", "alice")
    clients = [first_a, first_b]
    try:
        assert (await whole.owner("north")) is a
        assert (await whole.owner("south")) is b
        north = await create_project(first_a, "NORTH")
        south = await create_project(first_b, "SOUTH")
        # Every process serves both tenants: the same projects, the same live events.
        watchers = {}
        for node in (a, b, c):
            for tenant, project in (("north", north), ("south", south)):
                client = await whole.connect(node, tenant, "alice")
                clients.append(client)
                listed = await client.request("list_projects", commands_pb2.ListProjects())
                assert [p.id for p in listed.projects.projects] == [project.id]
                await client.request("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
                watchers[node.port, tenant] = client
        # Both tenants written at once, each through a process that does not own it.
        titles = [f"item {n}" for n in range(20)]
        await asyncio.gather(
            *(create_item(watchers[c.port, "north"], north.id, t) for t in titles),
            *(create_item(watchers[a.port, "south"], south.id, t) for t in titles),
        )
        for (_, tenant), client in watchers.items():
            seen: list[str] = []
            async with asyncio.timeout(10):
                while len(seen) < len(titles):
                    event = await client.events.get()
                    if event.WhichOneof("entity") == "work_item":
                        seen.append(event.work_item.title)
            assert sorted(seen) == sorted(titles), tenant
        assert (await whole.owner("north")) is a
        assert (await whole.owner("south")) is b
    finally:
        for client in clients:
            await client.close()


async def test_an_http_command_to_a_process_that_does_not_own_the_tenant_gets_the_owners_answer(
    whole: Cluster,
) -> None:
    a, b, c = whole.nodes
    watcher = await whole.connect(a, "east", "alice")  # a owns the tenant from here on
    try:
        assert (await whole.owner("east")) is a
        token = whole.token("east", "alice")

        async def post(node: Node, command: str, body: dict[str, object], key: str) -> Any:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{node.base_url}/v1/rpc/{command}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                ) as response,
            ):
                return response.status, await response.json()

        status, created = await post(b, "create_project", {"key": "EAST", "name": "E"}, "k1")
        assert status == 200, created
        project = created["project"]["project"]
        # The same request again through the third process: the owner's stored reply.
        assert await post(c, "create_project", {"key": "EAST", "name": "E"}, "k1") == (
            200,
            created,
        )
        # A refusal comes back as the owner gave it.
        status, refused = await post(b, "create_project", {"key": "e", "name": "E"}, "k2")
        assert (status, refused["code"]) == (422, "VALIDATION_ERROR")
        listed = await watcher.request("list_projects", commands_pb2.ListProjects())
        assert [p.id for p in listed.projects.projects] == [project["id"]]
        assert (await whole.owner("east")) is a
    finally:
        await watcher.close()


async def test_a_notification_reaches_its_user_through_a_process_that_does_not_own_the_tenant(
    whole: Cluster,
) -> None:
    a, b, c = whole.nodes
    owner_side = await whole.connect(a, "inbox", "alice")
    bob = await whole.connect(c, "inbox", "bob")  # relayed to the owner, a
    clients = [owner_side, bob]
    try:
        assert (await whole.owner("inbox")) is a
        await bob.request("subscribe", commands_pb2.Subscribe(notifications=True))
        project = await create_project(owner_side, "INBOX")
        await owner_side.request(
            "add_member",
            commands_pb2.AddMember(
                project_id=project.id, user_id="bob", role=entities_pb2.ROLE_EDITOR
            ),
        )
        alice = await whole.connect(b, "inbox", "alice")  # the change through a third process
        clients.append(alice)
        reply = await alice.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project.id,
                type=entities_pb2.WORK_ITEM_TYPE_TASK,
                title="for bob",
                assignee_id="bob",
            ),
        )
        event = await asyncio.wait_for(bob.events.get(), 10)
        assert event.notification.work_item_id == reply.work_item.item.id
        assert event.notification.reason == entities_pb2.NOTIFICATION_REASON_ASSIGNED
    finally:
        for client in clients:
            await client.close()


async def test_a_tenant_evicted_with_connections_open_keeps_its_owner(whole: Cluster) -> None:
    """The last node keeps one tenant open: a tenant it evicts while one of its clients is
    still connected stays its own (no other process takes it), and that idle subscriber
    still gets every event."""
    a, _, c = whole.nodes
    idle = await whole.connect(c, "evicted", "alice")
    clients = [idle]
    try:
        project = await create_project(idle, "EVICTED")
        await idle.request("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
        other = await whole.connect(c, "evictor", "alice")  # takes the only open slot
        clients.append(other)
        await create_project(other, "EVICTOR")
        assert (await whole.owner("evicted")) is c
        await asyncio.sleep(LEASE_SECONDS * 2)  # renewals come and go meanwhile
        writer = await whole.connect(a, "evicted", "alice")  # relayed to c, which reopens it
        clients.append(writer)
        assert (await whole.owner("evicted")) is c
        item = await create_item(writer, project.id, "after the eviction")
        async with asyncio.timeout(10):
            while True:
                event = await idle.events.get()
                if event.WhichOneof("entity") == "work_item":
                    break
        assert event.work_item.id == item.id
    finally:
        for client in clients:
            await client.close()


async def test_kill_9_of_the_owner_during_writes_loses_nothing_acknowledged(
    whole: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crash test's checks, with the tenant taken over by another process instead of a
    restart: every acknowledged write present, the log without gap or duplicate, resumes
    exact, resent request ids answered with their first reply by the new owner."""
    a, b, c = whole.nodes
    rng = random.Random(SEED)
    world = await set_up(a)  # the crash tenant's first connection: a owns it
    assert (await whole.owner(TENANT)) is a
    totals = Totals()
    writers = []
    for n, user in enumerate(USERS):  # half of them straight to the owner, half relayed
        node = a if n % 2 == 0 else b
        writer = Writer(await connect(node, user), user, 1, world, rng.randrange(1 << 32))
        await writer.subscribe()
        writers.append(writer)
    runs = [asyncio.ensure_future(w.run()) for w in writers]
    await asyncio.sleep(rng.uniform(0.3, 1.0))
    totals.inflight_at_kill = sum(w.inflight for w in writers)
    await a.kill()
    killed_at = asyncio.get_running_loop().time()
    await asyncio.wait_for(asyncio.gather(*runs), timeout=30)
    for writer in writers:
        await writer.client.close()
    probe = await whole.connect_when_served(c, TENANT, "alice")
    served_after = asyncio.get_running_loop().time() - killed_at
    await probe.close()
    assert (await whole.owner(TENANT)) in (b, c)
    await verify_after_restart(b, world, writers, 1, rng, totals)
    totals.cycles = 1
    with capsys.disabled():
        print(
            f"\ncluster failover: served again {served_after:.2f}s after kill -9; {totals.line()}"
        )
    assert totals.acks > 10, "the writers acknowledged too little to prove anything"
    totals.assert_clean()


async def test_a_paused_owner_that_lost_its_lease_commits_nothing(whole: Cluster) -> None:
    a, b, _ = whole.nodes
    old = await whole.connect(a, "paused", "alice")
    assert (await whole.owner("paused")) is a
    project = await create_project(old, "PAUSED")
    await create_item(old, project.id, "before")
    new = None
    a.signal(signal.SIGSTOP)
    try:
        # Sent to the paused owner: they wait in its socket until it wakes up.
        stale = [
            asyncio.ensure_future(
                old.call(
                    "create_work_item",
                    commands_pb2.CreateWorkItem(
                        project_id=project.id,
                        type=entities_pb2.WORK_ITEM_TYPE_TASK,
                        title=f"stale {n}",
                    ),
                    timeout=60,
                )
            )
            for n in range(10)
        ]
        await asyncio.sleep(LEASE_SECONDS * 1.5)  # its lease expires meanwhile
        new = await whole.connect_when_served(b, "paused", "alice")
        assert (await whole.owner("paused")) is b
        for n in range(5):
            await create_item(new, project.id, f"new {n}")
    finally:
        a.signal(signal.SIGCONT)
    outcomes = await asyncio.gather(*stale, return_exceptions=True)
    for outcome in outcomes:  # refused (retryable) or cut off with the connection: never ok
        if isinstance(outcome, BaseException):
            assert isinstance(outcome, ConnectionError), repr(outcome)
        else:
            assert outcome.WhichOneof("kind") == "error", outcome
            assert envelope_pb2.ErrorCode.Name(outcome.error.code) == "UNAVAILABLE"
            assert outcome.error.retryable
    assert new is not None
    await new.close()
    await old.close()
    store = read_store(whole.db_path("paused"))
    titles = [
        events_pb2.Event.FromString(e.payload).work_item.title
        for e in store.events
        if events_pb2.Event.FromString(e.payload).WhichOneof("entity") == "work_item"
    ]
    assert titles == ["before"] + [f"new {n}" for n in range(5)]
    found = check_store(store, [], [])
    assert (found.gaps, found.duplicates) == ([], [])
    lease = await whole.lease("paused")
    assert lease is not None
    assert stored_fence(whole.db_path("paused")) == lease[1]


async def test_redis_killed_and_restarted_loses_nothing_and_never_two_owners(
    whole: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = whole.nodes
    tenants = {"red": a, "blue": b}
    projects = {}
    for tenant, node in tenants.items():
        client = await whole.connect(node, tenant, "alice")
        projects[tenant] = (await create_project(client, tenant.upper())).id
        await client.close()
    stop = asyncio.Event()
    loads = [
        Load(whole, "red", projects["red"], a, stop),
        Load(whole, "red", projects["red"], c, stop),
        Load(whole, "blue", projects["blue"], b, stop),
        Load(whole, "blue", projects["blue"], c, stop),
    ]
    writers = [asyncio.ensure_future(load.run()) for load in loads]
    await asyncio.sleep(0.5)
    whole.redis.kill()
    await asyncio.sleep(LEASE_SECONDS * 3)  # past every lease: the owners let their tenants go
    whole.redis.start()
    await asyncio.sleep(LEASE_SECONDS * 3)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*writers), timeout=60)
    let_go = sum(node.log_path.read_text().count("let go:") for node in whole.nodes)
    with capsys.disabled():
        print(
            f"\ncluster redis restart: acknowledged {sum(len(x.acked) for x in loads)}, "
            f"refused or cut {sum(x.refusals for x in loads)}, tenants let go {let_go}"
        )
    assert let_go >= 2, "the owners kept their tenants through the outage: it proved nothing"
    for tenant in tenants:
        acked = {item for x in loads if x.tenant == tenant for item in x.acked}
        assert len(acked) > 5
        store = read_store(whole.db_path(tenant))
        stored = {entity_id for table, entity_id in store.versions if table == "work_items"}
        assert acked <= stored, f"{tenant}: acknowledged writes lost"
        found = check_store(store, [], [])
        assert (found.gaps, found.duplicates) == ([], [])
        # One owner: the one whose fencing token the database holds is the one Redis names.
        lease = await whole.lease(tenant)
        if lease is not None:
            assert stored_fence(whole.db_path(tenant)) == lease[1]


async def test_a_drained_node_hands_its_tenants_over_and_clients_resume(
    whole: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = whole.nodes
    tenants = ["drain1", "drain2", "drain3"]
    projects = {}
    for tenant in tenants:  # all owned by a
        client = await whole.connect(a, tenant, "alice")
        projects[tenant] = (await create_project(client, tenant.upper())).id
        await client.close()
        assert (await whole.owner(tenant)) is a
    stop = asyncio.Event()
    loads = [Load(whole, t, projects[t], node, stop) for t in tenants for node in (a, b)]
    watchers = [Watcher(whole, t, projects[t], node) for t in tenants for node in (a, c)]
    tasks = [asyncio.ensure_future(x.run()) for x in loads]
    tasks += [asyncio.ensure_future(x.run()) for x in watchers]
    try:
        await asyncio.sleep(0.5)
        a.signal(signal.SIGUSR1)
        async with asyncio.timeout(30):  # the tenants move
            while any(owner in (a, None) for owner in [await whole.owner(t) for t in tenants]):
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # and are written to on their new owners
    except BaseException:
        await whole.restart(a)  # a drained node stays drained: the next test needs it whole
        raise
    finally:
        stop.set()
        for watcher in watchers:
            watcher.stopping = True
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    resumes = sum(w.resumes for w in watchers)
    pause = max(x.longest_pause for x in loads)
    with capsys.disabled():
        print(
            f"\ncluster drain of 1 node of 3: {len(tenants)} tenants moved, "
            f"acknowledged {sum(len(x.acked) for x in loads)}, "
            f"reconnects {sum(x.reconnects for x in loads) - len(loads)}, resumes {resumes}, "
            f"longest pause between two acknowledged writes {pause * 1000:.0f} ms"
        )
    assert resumes >= len(watchers) // 2, "the subscribers were not moved"
    for tenant in tenants:
        store = read_store(whole.db_path(tenant))
        stored = {entity_id for table, entity_id in store.versions if table == "work_items"}
        acked = {item for x in loads if x.tenant == tenant for item in x.acked}
        assert acked <= stored, f"{tenant}: acknowledged writes lost"
        found = check_store(store, [], [])
        assert (found.gaps, found.duplicates) == ([], [])
        for watcher in (w for w in watchers if w.tenant == tenant):
            assert watcher.start is not None
            expected = [e.seq for e in store.events if e.seq > watcher.start]
            assert watcher.seqs == expected[: len(watcher.seqs)], "a gap or a duplicate"
            assert len(watcher.seqs) >= len(expected) - 5, "the subscriber fell behind"
    # The drained node owns nothing and takes nothing, but still serves through relays.
    client = await whole.connect(a, "drain-late", "alice")
    await create_project(client, "LATE")
    await client.close()
    assert (await whole.owner("drain-late")) in (b, c)
    await whole.restart(a)  # a drained node stays drained: the next test gets a fresh one


async def test_workers_share_one_port_and_a_dead_worker_is_replaced(
    cluster: Cluster, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    load_or_create_signing_key(data_dir)
    log_path = tmp_path / "workers.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PM_")},
        "PM_DATA_DIR": str(data_dir),
        "PM_HOST": "127.0.0.1",
        "PM_PORT": "0",
        "PM_LOG_LEVEL": "INFO",
        "PM_REDIS_URL": cluster.redis.url,
        "PM_CLUSTER_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with log_path.open("ab") as log:
        parent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pm_server", "serve", "--workers", "2", env=env, stderr=log
        )
    try:
        ports = await _serving_ports(log_path, 2)
        assert len(set(ports)) == 1, ports  # one port, two processes
        url = f"ws://127.0.0.1:{ports[0]}/v1/ws"
        key = load_or_create_signing_key(data_dir)

        async def connect(tenant: str) -> TapClient:
            token = mint_token(key, tenant_id=tenant, user_id="alice", name="Alice")
            client = await TapClient.connect(url, token)
            assert isinstance(client, TapClient)
            return client

        first = await connect("shared")
        project = await create_project(first, "SHARED")
        await first.close()
        for _ in range(6):  # whichever worker takes the connection serves the same tenant
            client = await connect("shared")
            listed = await client.request("list_projects", commands_pb2.ListProjects())
            assert [p.id for p in listed.projects.projects] == [project.id]
            await client.close()
        pids = [
            int(n.rsplit("-", 2)[1]) for n in re.findall(r"node (\S+) at ", log_path.read_text())
        ]
        assert len(set(pids)) == 2
        os.kill(pids[0], signal.SIGKILL)
        assert len(await _serving_ports(log_path, 3)) == 3  # the parent started another
        assert "exited with -9: starting another" in log_path.read_text()
        client = await retrying(lambda: connect("shared"), FAILOVER_DEADLINE)
        listed = await client.request("list_projects", commands_pb2.ListProjects())
        assert [p.id for p in listed.projects.projects] == [project.id]
        await client.close()
    finally:
        if parent.returncode is None:
            parent.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(parent.wait(), timeout=60)
    assert code == 0
    assert "stopped" in log_path.read_text().splitlines()[-1]


async def test_workers_need_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    env["PM_DATA_DIR"] = str(tmp_path / "data")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pm_server", "serve", "--workers", "2", env=env,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 2
    assert b"--workers needs PM_REDIS_URL" in err


async def _serving_ports(log_path: Path, count: int) -> list[int]:
    """The ports of the first ``count`` ``serving on`` lines of the log (waiting for them)."""
    async with asyncio.timeout(60):
        while True:
            ports = [int(p) for p in SERVING.findall(log_path.read_bytes())]
            if len(ports) >= count:
                return ports[:count]
            await asyncio.sleep(0.05)
