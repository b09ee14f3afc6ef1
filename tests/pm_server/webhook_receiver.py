"""A webhook receiver for the tests: an aiohttp server on a port of 127.0.0.1 that
records every POST and answers with the status its ``answer`` function picks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded

    @property
    def seq(self) -> int:
        return int(self.event["seq"])


@dataclass
class Receiver:
    url: str
    answer: Callable[[Received], int]
    received: list[Received] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def taken(self) -> list[Received]:
        """The posts answered 2xx, in the order they came."""
        return [r for r in self.received if 200 <= r.status < 300]

    async def until(self, done: Callable[[Receiver], bool], timeout: float = 60) -> None:
        async def wait() -> None:
            while not done(self):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


@asynccontextmanager
async def receiving(answer: Callable[[Received], int] = lambda r: 200) -> AsyncIterator[Receiver]:
    receiver: Receiver

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        probe = Received(dict(request.headers), body, 0)
        status = receiver.answer(probe)
        receiver.received.append(Received(probe.headers, body, status))
        receiver.changed.set()
        return web.Response(status=status, text="ok" if status < 300 else "no")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver = Receiver(f"http://127.0.0.1:{port}/hook", answer)
    try:
        yield receiver
    finally:
        await runner.cleanup()
