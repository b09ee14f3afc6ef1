"""PmClient across dropped connections and server restarts: resume, must_refetch, retries."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from pm_client import ConnectError, ConnectionLost, MustRefetch, PmClient
from pm_proto.v1 import entities_pb2, envelope_pb2, events_pb2
from pm_server.app import create_app
from pm_server.connection import Connection
from pm_server.settings import Settings
from tests.pm_server.conftest import Server

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


class Restartable:
    """A real server that can be stopped and started again on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.runner: web.AppRunner | None = None
        self.server: Server | None = None

    async def start(self, data_dir: Path | None = None) -> Server:
        data_dir = data_dir or self.data_dir
        settings = Settings(
            data_dir=data_dir, port=0, heartbeat_seconds=5, shutdown_grace_seconds=2
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.port = runner.addresses[0][1]
        self.runner = runner
        self.server = Server(f"http://127.0.0.1:{self.port}", data_dir, app)
        return self.server

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def connection_of(self, client: PmClient) -> Connection:
        assert self.server is not None
        [connection] = [
            c for c in self.server.state.connections if c.id == client.welcome.connection_id
        ]
        return connection


class Proxy:
    """A TCP forwarder to cut one client's network (and keep it cut) on demand."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._listener: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    async def open(self) -> None:
        self._listener = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection and refuse new ones until :meth:`open`."""
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        pipes = [self._pipe(reader, up_writer), self._pipe(up_reader, writer)]
        tasks = [asyncio.ensure_future(pipe) for pipe in pipes]
        self._tasks.update(tasks)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            w.transport.abort()
            self._writers.discard(w)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[Restartable]:
    srv = Restartable(tmp_path / "data")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def proxy(restartable: Restartable) -> AsyncIterator[Proxy]:
    forwarder = Proxy(restartable.port)
    await forwarder.open()
    yield forwarder
    await forwarder.cut()


@contextlib.asynccontextmanager
async def connected(
    srv: Restartable, proxy: Proxy | None = None, **options: object
) -> AsyncIterator[PmClient]:
    assert srv.server is not None
    url = proxy.ws_url if proxy is not None else srv.server.ws_url
    client = PmClient(url, srv.server.token(), max_backoff=0.2, **options)  # type: ignore[arg-type]
    async with client:
        yield client


def db_path(data_dir: Path) -> Path:
    return data_dir / "tenants" / "acme" / "main.db"


def stored_events(data_dir: Path, project_id: str, after: int) -> list[events_pb2.Event]:
    with contextlib.closing(sqlite3.connect(db_path(data_dir))) as db:
        rows = db.execute(
            "SELECT payload FROM events WHERE project_id = ? AND seq > ? ORDER BY seq",
            (project_id, after),
        ).fetchall()
    return [events_pb2.Event.FromString(payload) for (payload,) in rows]


async def collect_until(client: PmClient, titles: set[str], got: list[events_pb2.Event]) -> None:
    """Read the client's events into ``got`` until every title has been created."""
    seen: set[str] = set()
    async for event in client.events():
        got.append(event)
        if event.action == entities_pb2.ACTION_CREATED:
            seen.add(event.work_item.title)
        if titles <= seen:
            return


async def test_event_stream_resumes_across_a_restart_and_an_outage_without_gaps_or_duplicates(
    restartable: Restartable, proxy: Proxy
):
    """The watcher is cut off while the server restarts and the writer goes on writing."""
    titles = {f"T{n:02}" for n in range(60)}
    async with connected(restartable, proxy) as watcher, connected(restartable) as writer:
        project = (await writer.create_project(key="PM", name="Board")).project
        subscribed = await watcher.subscribe([project.id])
        got: list[events_pb2.Event] = []
        reading = asyncio.ensure_future(collect_until(watcher, titles, got))
        written: list[str] = []

        async def write() -> None:
            for title in sorted(titles):
                await writer.create_work_item(project_id=project.id, type=TASK, title=title)
                written.append(title)

        writing = asyncio.ensure_future(write())
        try:
            async with asyncio.timeout(30):
                while len(got) < 20:
                    await asyncio.sleep(0.01)
                await proxy.cut()
                await restartable.stop()  # graceful: in-flight replies first, then 1001
                await asyncio.sleep(0.2)  # the writer finds nothing listening for a while
                await restartable.start()
                while len(written) < 45:  # written while the watcher cannot connect
                    await asyncio.sleep(0.01)
                missed = len(written) - len(got)
                await proxy.open()
                await writing
                await reading
        finally:
            for task in (reading, writing):
                task.cancel()
            await asyncio.wait({reading, writing})

        assert missed >= 15
        assert watcher.reconnects >= 1
        assert writer.reconnects == 1
        assert got == stored_events(restartable.data_dir, project.id, subscribed.seq)
        items = await writer.list_work_items(project_id=project.id)
        assert sorted(item.title for item in items.items) == sorted(titles)  # each written once


async def test_epoch_change_across_a_restart_surfaces_must_refetch_then_streams_on(
    restartable: Restartable,
):
    async with connected(restartable) as pm:
        project = (await pm.create_project(key="PM", name="Board")).project
        await pm.subscribe([project.id])
        await pm.create_work_item(project_id=project.id, type=TASK, title="before")
        stream = pm.events()
        assert (await anext(stream)).work_item.title == "before"
        old_epoch = pm.epoch

        await restartable.stop()
        with contextlib.closing(sqlite3.connect(db_path(restartable.data_dir))) as db, db:
            db.execute("UPDATE tenant_meta SET value = 'restored' WHERE key = 'epoch'")
            head = db.execute("SELECT max(seq) FROM events").fetchone()[0]
        await restartable.start()

        with pytest.raises(MustRefetch) as refetch:
            async with asyncio.timeout(10):
                await anext(stream)
        assert (refetch.value.epoch, refetch.value.seq) == ("restored", head)
        assert (pm.epoch, pm.last_seq) == ("restored", head)
        assert old_epoch != "restored"

        await pm.create_work_item(project_id=project.id, type=TASK, title="after")
        async with asyncio.timeout(10):
            event = await anext(stream)  # the same stream goes on
        assert (event.work_item.title, event.seq) == ("after", head + 1)


async def test_mutation_whose_reply_was_lost_is_sent_again_and_written_once(
    restartable: Restartable,
):
    async with connected(restartable) as pm:
        project = (await pm.create_project(key="PM", name="Board")).project
        await pm.subscribe([project.id])
        connection = restartable.connection_of(pm)
        send = connection.send

        def lose_work_item_reply(frame: bytes) -> None:
            message = envelope_pb2.ServerMessage.FromString(frame)
            if message.WhichOneof("kind") == "reply" and message.reply.HasField("work_item"):
                # Committed, but the network fails before the reply gets out.
                connection.begin_close(1011, "test: connection lost")
                return
            send(frame)

        connection.send = lose_work_item_reply  # type: ignore[method-assign]
        created = await pm.create_work_item(project_id=project.id, type=TASK, title="once")

        assert pm.reconnects == 1
        items = await pm.list_work_items(project_id=project.id)
        assert [item.id for item in items.items] == [created.item.id]
        [event] = [
            e
            for e in stored_events(restartable.data_dir, project.id, 0)
            if e.entity_type == entities_pb2.ENTITY_TYPE_WORK_ITEM
        ]
        assert event.entity_id == created.item.id
        async with asyncio.timeout(10):
            delivered = await anext(pm.events())  # and its event arrives exactly once
        assert delivered.entity_id == created.item.id
        await pm.ping()
        assert pm.last_seq == event.seq


async def test_subscriptions_and_presence_are_restored_after_a_drop(restartable: Restartable):
    async with connected(restartable) as pm, connected(restartable) as other:
        project = (await pm.create_project(key="PM", name="Board")).project
        await pm.subscribe([project.id])
        await pm.join_presence(project_id=project.id)
        restartable.connection_of(pm).begin_close(1011, "test: internal error")
        stream = pm.events()
        async with asyncio.timeout(10):
            while pm.reconnects == 0:
                await asyncio.sleep(0.01)
        presence = await other.list_presence(project_id=project.id)
        assert list(presence.user_ids) == ["alice"]
        created = await other.create_work_item(project_id=project.id, type=TASK, title="seen")
        async with asyncio.timeout(10):
            event = await anext(stream)
            while event.seq == 0:  # presence changes (seq 0) of the drop and the rejoin
                event = await anext(stream)
        assert event.entity_id == created.item.id


async def test_subscribe_cut_off_by_a_drop_raises_connection_lost_and_the_client_recovers(
    restartable: Restartable,
):
    async with connected(restartable) as pm:
        project = (await pm.create_project(key="PM", name="Board")).project
        connection = restartable.connection_of(pm)
        send = connection.send

        def lose_subscribe_reply(frame: bytes) -> None:
            message = envelope_pb2.ServerMessage.FromString(frame)
            if message.WhichOneof("kind") == "reply" and message.reply.HasField("subscribed"):
                connection.begin_close(1011, "test: connection lost")
                return
            send(frame)

        connection.send = lose_subscribe_reply  # type: ignore[method-assign]
        with pytest.raises(ConnectionLost, match="subscribe"):
            await pm.subscribe([project.id])
        assert pm.subscribed == []
        await pm.subscribe([project.id])  # waits for the reconnect, then works
        assert pm.subscribed == [project.id]


async def test_reconnect_refused_for_good_ends_requests_and_stream_with_connect_error(
    restartable: Restartable, tmp_path: Path
):
    async with connected(restartable) as pm:
        project = (await pm.create_project(key="PM", name="Board")).project
        await pm.subscribe([project.id])
        await restartable.stop()
        # Another data dir on the same port: another signing key, so the token is refused.
        await restartable.start(tmp_path / "other")
        with pytest.raises(ConnectError) as refused:
            async with asyncio.timeout(10):
                await anext(pm.events())
        assert (refused.value.status, refused.value.code) == (401, "UNAUTHENTICATED")
        with pytest.raises(ConnectError):
            await pm.ping()
