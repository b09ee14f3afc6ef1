"""search over a real socket: ranking, comments, what a caller may read, refusals."""

from __future__ import annotations

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import board, code, new_item
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.module_server import ON_MODULE_LOOP, next_key, shared_server
from tests.pm_server.wsclient import WsClient

pytestmark = ON_MODULE_LOOP
__all__ = ["shared_server"]


async def search(client: WsClient, query: str, **filters: object) -> list[str]:
    reply = await client.request(
        "search",
        commands_pb2.Search(query=query, **filters),  # type: ignore[arg-type]
    )
    return [hit.item.title for hit in reply.search_results.hits]


async def test_search_ranks_a_title_match_first_and_finds_comment_words(
    shared_server: Server,
) -> None:
    b = await board(shared_server, next_key("SR"))
    await new_item(b.bob, b.project.id, "Quokka export", description="csv files")
    await new_item(b.bob, b.project.id, "Reports", description="the quokka report is slow")
    commented = await new_item(b.bob, b.project.id, "Nightly job")
    await b.bob.request(
        "create_comment",
        commands_pb2.CreateComment(work_item_id=commented.id, body="fails with wombat error"),
    )
    pid = b.project.id
    assert await search(b.vic, "quokka", project_id=pid) == ["Quokka export", "Reports"]
    assert await search(b.vic, "wombat", project_id=pid) == ["Nightly job"]
    reply = await b.vic.request("search", commands_pb2.Search(query="wom", project_id=pid))
    (hit,) = reply.search_results.hits
    assert hit.item.display_key == commented.display_key
    assert "\x02wombat\x03" in hit.snippet


async def test_search_never_returns_an_item_the_caller_cannot_read(shared_server: Server) -> None:
    b = await board(shared_server, next_key("SR"))
    outsider = await shared_server.client(user="olga")
    hidden = await create_project(outsider, next_key("SH"))
    await new_item(outsider, hidden.id, "Capybara secret plan")
    await new_item(b.bob, b.project.id, "Capybara public notes")

    assert await search(b.vic, "capybara") == ["Capybara public notes"]
    assert await search(outsider, "capybara") == ["Capybara secret plan"]
    error = await b.vic.error("search", commands_pb2.Search(query="capybara", project_id=hidden.id))
    assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "project", hidden.id)
    admin = await shared_server.client(user="root", admin=True)
    assert sorted(await search(admin, "capybara")) == [
        "Capybara public notes",
        "Capybara secret plan",
    ]


async def test_search_filters_and_pages(shared_server: Server) -> None:
    b = await board(shared_server, next_key("SR"))
    for n in range(5):
        await new_item(
            b.bob,
            b.project.id,
            f"Axolotl {n}",
            type=entities_pb2.WORK_ITEM_TYPE_TASK if n % 2 else entities_pb2.WORK_ITEM_TYPE_STORY,
        )
    pid = b.project.id
    tasks = await search(b.vic, "axolotl", project_id=pid, types=[entities_pb2.WORK_ITEM_TYPE_TASK])
    assert sorted(tasks) == ["Axolotl 1", "Axolotl 3"]
    first = await b.vic.request("search", commands_pb2.Search(query="axolotl", limit=3))
    assert len(first.search_results.hits) == 3
    assert first.search_results.next_offset == 3
    rest = await b.vic.request("search", commands_pb2.Search(query="axolotl", limit=3, offset=3))
    assert (len(rest.search_results.hits), rest.search_results.next_offset) == (2, 0)
    seen = {h.item.id for h in [*first.search_results.hits, *rest.search_results.hits]}
    assert len(seen) == 5


async def test_search_refuses_a_query_without_words_and_bad_paging(shared_server: Server) -> None:
    client = await shared_server.client(user="alice")
    for command, field in (
        (commands_pb2.Search(query="  ?! "), "query"),
        (commands_pb2.Search(query="x", limit=101), "limit"),
        (commands_pb2.Search(query="x", offset=-1), "offset"),
    ):
        error = await client.error("search", command)
        assert (code(error), error.field) == ("VALIDATION_ERROR", field)
