"""Load processes: each runs one async function in its own interpreter, never the server's.

The harness starts a :class:`Worker` per load process (``spawn``, so nothing of
the parent's state leaks in) and talks to it over a pipe with tagged messages:
the worker signals ``ready`` once its connections are up, waits for ``go``,
and finally sends its ``result`` (a plain dict). Several workers started
together are released at the same moment with :func:`go_all`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import multiprocessing
import resource
import time
import traceback
from array import array
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from multiprocessing.connection import Connection
from typing import Any

_CONTEXT = multiprocessing.get_context("spawn")


class WorkerError(RuntimeError):
    """A load process failed or did not answer in time."""


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class Control:
    """The worker's side of the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def signal(self, tag: str, payload: Any = None) -> None:
        self._conn.send((tag, payload))

    async def wait(self, tag: str) -> Any:
        """Wait (without blocking the event loop) for the parent's message ``tag``."""
        got, payload = await asyncio.to_thread(self._conn.recv)
        if got != tag:
            raise WorkerError(f"expected {tag!r} from the harness, got {got!r}")
        return payload


#: A load process's job: async (run on a fresh event loop) or plain (CPU or disk work).
WorkerFn = Callable[[dict[str, Any], Control], Awaitable[dict[str, Any]] | dict[str, Any]]


def _main(target: str, params: dict[str, Any], conn: Connection) -> None:
    raise_fd_limit()
    try:
        module_name, _, name = target.partition(":")
        fn: WorkerFn = getattr(importlib.import_module(module_name), name)
        outcome = fn(params, Control(conn))
        if inspect.isawaitable(outcome):
            result = _run(_await(outcome), params.get("uvloop", False))
        else:
            result = outcome
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


async def _await(outcome: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    return await outcome


def _run(main: Coroutine[Any, Any, dict[str, Any]], want_uvloop: bool) -> dict[str, Any]:
    if want_uvloop:
        try:
            import uvloop  # noqa: PLC0415 - optional, only when asked for
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


class Worker:
    """The parent's side: one load process running ``target`` ("module:function")."""

    def __init__(self, target: str, params: dict[str, Any], name: str = "") -> None:
        self.name = name or target
        self._conn, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_main, args=(target, params, child), name=self.name, daemon=True
        )
        self._process.start()
        child.close()
        self._result: dict[str, Any] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def send(self, tag: str, payload: Any = None) -> None:
        self._conn.send((tag, payload))

    def wait(self, tag: str, timeout: float) -> Any:
        """Wait for the worker's message ``tag``; a failure or timeout is a WorkerError."""
        if not self._conn.poll(timeout):
            self.kill()
            raise WorkerError(f"{self.name}: no {tag!r} within {timeout:.0f} s")
        try:
            got, payload = self._conn.recv()
        except EOFError as exc:
            raise WorkerError(f"{self.name}: exited before {tag!r}") from exc
        if got == "error":
            raise WorkerError(f"{self.name} failed:\n{payload}")
        if got == "result" and tag != "result":
            self._result = payload
            raise WorkerError(f"{self.name}: finished before {tag!r}")
        if got != tag:
            raise WorkerError(f"{self.name}: expected {tag!r}, got {got!r}")
        return payload

    def result(self, timeout: float) -> dict[str, Any]:
        if self._result is None:
            self._result = self.wait("result", timeout)
        self._process.join(timeout=10)
        assert self._result is not None
        return self._result

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)


def wait_all(workers: Sequence[Worker], tag: str, timeout: float) -> list[Any]:
    return [worker.wait(tag, timeout) for worker in workers]


def go_all(workers: Sequence[Worker], payload: Any = None) -> None:
    for worker in workers:
        worker.send("go", payload)


def results(workers: Sequence[Worker], timeout: float) -> list[dict[str, Any]]:
    try:
        return [worker.result(timeout) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()


def release(workers: Sequence[Worker], warmup: float, duration: float) -> dict[str, float]:
    """Send every worker the same wall-clock window: start, measure from, until."""
    start = time.time() + 0.3
    window = {
        "start": start,
        "measure_from": start + warmup,
        "until": start + warmup + duration,
    }
    go_all(workers, window)
    return window


def floats(data: bytes) -> array[float]:
    """Latencies a worker sent as ``array("d").tobytes()``."""
    values = array("d")
    values.frombytes(data)
    return values
