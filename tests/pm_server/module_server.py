"""One real server shared by the tests of a module, each test on a board of its own.

For tests that need no server of their own: a board per test (its own project key) keeps
them apart, and the module starts one server instead of one per test.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.pm_server.conftest import Server, start_server

#: Mark a module's tests with this to run them on the module's event loop (the server's).
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

_keys = itertools.count(1)


def next_key(prefix: str) -> str:
    """A project key no other board of the run has (``prefix`` + a number)."""
    return f"{prefix}{next(_keys)}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    data: Path = tmp_path_factory.mktemp("data")
    srv, runner = await start_server(data)
    yield srv
    for client in srv.clients:
        await client.close()
    await runner.cleanup()
