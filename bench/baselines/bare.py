"""Bare aiohttp: an echo server, a fan-out server and their clients (the load processes).

The servers do nothing but move bytes: the echo server answers every binary
frame with a frame of the size of pm's reply; the fan-out server sends one
stamped frame (8-byte wall-clock time, padded to the size of one pm event
frame) to every connection with ``send_bytes``, round after round, for the
measured window. Both use the same heartbeat as ``pm serve`` and, when the pm
server ran on uvloop, run on uvloop too.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from array import array
from typing import Any

import aiohttp
from aiohttp import web

from bench.client import session
from bench.workers import Control

END = b"E"
HEARTBEAT_S = 30.0


async def _sleep_until(wall: float) -> None:
    delay = wall - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _serve(app: web.Application, ctl: Control) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    ctl.signal("ready", {"url": f"ws://127.0.0.1:{port}/ws", "pid": os.getpid()})
    return runner


# -- servers ---------------------------------------------------------------------------------


async def echo_server(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    reply = b"r" * params["reply_bytes"]

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(reply)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = await _serve(app, ctl)
    await ctl.wait("stop")
    await runner.cleanup()
    return {}


async def fanout_server(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    connections: set[web.WebSocketResponse] = set()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        connections.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            connections.discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = await _serve(app, ctl)
    window = await ctl.wait("go")
    targets = list(connections)
    padding = b"\0" * max(0, params["frame_bytes"] - 8)
    rounds = 0
    await _sleep_until(window["start"])
    while time.time() < window["until"]:
        frame = struct.pack("<d", time.time()) + padding
        for ws in targets:
            await ws.send_bytes(frame)
        rounds += 1
    for ws in targets:
        await ws.send_bytes(END)
    await ctl.wait("stop")
    await runner.cleanup()
    return {"rounds": rounds, "connections": len(targets)}


# -- clients ---------------------------------------------------------------------------------


async def _connect(http: aiohttp.ClientSession, url: str, count: int) -> list[Any]:
    gate = asyncio.Semaphore(100)

    async def one() -> aiohttp.ClientWebSocketResponse:
        async with gate:
            return await http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=None))

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def echo_sequential(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    request = b"q" * params["request_bytes"]
    latencies = array("d")
    async with session() as http:
        (ws,) = await _connect(http, params["url"], 1)
        for n in range(params["warmup"] + params["requests"]):
            started = time.perf_counter()
            await ws.send_bytes(request)
            await ws.receive()
            if n >= params["warmup"]:
                latencies.append(time.perf_counter() - started)
        await ws.close()
    return {"latencies": latencies.tobytes()}


async def echo_closed_loop(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    request = b"q" * params["request_bytes"]
    latencies = array("d")
    async with session() as http:
        sockets = await _connect(http, params["url"], params["clients"])
        ctl.signal("ready", len(sockets))
        window = await ctl.wait("go")
        measure_from, until = window["measure_from"], window["until"]

        async def loop(ws: aiohttp.ClientWebSocketResponse) -> None:
            await _sleep_until(window["start"])
            while (started_wall := time.time()) < until:
                started = time.perf_counter()
                await ws.send_bytes(request)
                await ws.receive()
                if started_wall >= measure_from:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(loop(ws) for ws in sockets))
        await asyncio.gather(*(ws.close() for ws in sockets))
    return {"latencies": latencies.tobytes()}


async def fanout_receivers(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    latencies = array("d")
    last_receipt = 0.0
    in_window = 0
    async with session() as http:
        sockets = await _connect(http, params["url"], params["connections"])
        ctl.signal("ready", len(sockets))
        window = await ctl.wait("go")
        measure_from, until = window["measure_from"], window["until"]

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal last_receipt, in_window
            async for message in ws:
                data = message.data
                if data == END:
                    return
                received = time.time()
                (stamp,) = struct.unpack_from("<d", data)
                if measure_from <= stamp < until:
                    in_window += 1
                    latencies.append(received - stamp)
                    last_receipt = received

        await asyncio.gather(*(read(ws) for ws in sockets))
        await asyncio.gather(*(ws.close() for ws in sockets))
    return {"in_window": in_window, "last_receipt": last_receipt, "latencies": latencies.tobytes()}


async def idle_sockets(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    async with session() as http:
        sockets = await _connect(http, params["url"], params["connections"])
        ctl.signal("ready", {"connected": len(sockets)})
        await ctl.wait("stop")
        await asyncio.gather(*(ws.close() for ws in sockets))
    return {"connected": len(sockets)}
