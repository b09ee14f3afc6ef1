"""The CLI on lists longer than a page (``--all``, ``--after``) and retried writes
(``--request-id``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.pm_client.cli_support import InThreadCli, Result, live_server
from tests.pm_server.conftest import Server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch) -> InThreadCli:
    for name in ("PM_URL", "PM_TOKEN", "PM_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return InThreadCli(server.ws_url, lambda user: server.token(user=user))


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


async def js(cli: InThreadCli, *args: str) -> Any:
    return ok(await cli(*args, "--json")).json()


async def test_item_list_pages_with_after_and_reads_every_page_with_all(cli: InThreadCli):
    ok(await cli("project", "create", "PG", "Paging"))
    for n in range(7):
        ok(await cli("item", "create", "-p", "PG", f"Item {n}"))

    first = await js(cli, "item", "list", "-p", "PG", "--limit", "3")
    assert [i["title"] for i in first["items"]] == ["Item 0", "Item 1", "Item 2"]
    assert first["next_after"]
    second = await js(
        cli, "item", "list", "-p", "PG", "--limit", "3", "--after", first["next_after"]
    )
    assert [i["title"] for i in second["items"]] == ["Item 3", "Item 4", "Item 5"]
    every = await js(cli, "item", "list", "-p", "PG", "--limit", "3", "--all")
    assert [i["title"] for i in every["items"]] == [f"Item {n}" for n in range(7)]
    assert not every["next_after"]
    text = ok(await cli("item", "list", "-p", "PG", "--limit", "3"))
    assert f"--after {first['next_after']}" in text.stderr  # a person is told there is more


async def test_comments_activity_and_time_entries_read_every_page_with_all(cli: InThreadCli):
    ok(await cli("project", "create", "PG", "Paging"))
    ok(await cli("item", "create", "-p", "PG", "Busy"))
    for n in range(5):
        ok(await cli("comment", "add", "PG-1", f"Note {n}"))
    for n in range(3):
        ok(await cli("time", "log", "PG-1", "--duration", f"{n + 1}m"))

    comments = await js(cli, "comment", "list", "PG-1", "--limit", "2", "--all")
    assert [c["body"] for c in comments["comments"]] == [f"Note {n}" for n in range(5)]
    one_page = await js(cli, "comment", "list", "PG-1", "--limit", "2")
    assert len(one_page["comments"]) == 2

    everything = await js(cli, "activity", "-p", "PG", "--limit", "500")
    paged = await js(cli, "activity", "-p", "PG", "--limit", "2", "--all")
    assert len(everything["entries"]) > 2
    assert [e["id"] for e in paged["entries"]] == [e["id"] for e in everything["entries"]]

    entries = await js(cli, "time", "list", "--item", "PG-1", "--limit", "1", "--all")
    assert len(entries["entries"]) == 3
    assert len({e["id"] for e in entries["entries"]}) == 3


async def test_write_run_again_with_the_same_request_id_is_applied_once(cli: InThreadCli):
    ok(await cli("project", "create", "RQ", "Retries"))
    first = await js(cli, "item", "create", "-p", "RQ", "Once", "--request-id", "agent-7")
    again = await js(cli, "item", "create", "-p", "RQ", "Once", "--request-id", "agent-7")
    assert again["id"] == first["id"]
    other = await js(cli, "item", "create", "-p", "RQ", "Twice", "--request-id", "agent-8")
    assert other["id"] != first["id"]
    ok(await cli("comment", "add", "RQ-1", "Said once", "--request-id", "c-1"))
    ok(await cli("comment", "add", "RQ-1", "Said once", "--request-id", "c-1"))

    items = await js(cli, "item", "list", "-p", "RQ")
    assert [i["title"] for i in items["items"]] == ["Once", "Twice"]
    comments = await js(cli, "comment", "list", "RQ-1")
    assert [c["body"] for c in comments["comments"]] == ["Said once"]
    refused = await cli("item", "list", "-p", "RQ", "--request-id", "x" * 200)
    assert refused.code == 2
