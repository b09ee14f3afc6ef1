"""Project-wide reads over a real socket: every dependency of a project, and its blocked items.

One command each instead of a ``list_dependencies`` per item: paged with
``after``, filtered (dependency types), refused for a project the caller cannot
read exactly as for one that does not exist, and current after each change a
watcher sees.
"""

from __future__ import annotations

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import Board, board, code, new_item, update
from tests.pm_server.conftest import Server
from tests.pm_server.test_dependencies_functional import items, link

BLOCKS = entities_pb2.DEPENDENCY_TYPE_BLOCKS
RELATES_TO = entities_pb2.DEPENDENCY_TYPE_RELATES_TO
DONE = entities_pb2.WORK_ITEM_STATUS_DONE
P = commands_pb2


async def all_dependencies(b: Board, **fields: object) -> commands_pb2.ProjectDependencyList:
    reply = await b.vic.request(
        "list_project_dependencies",
        P.ListProjectDependencies(project_id=b.project.id, **fields),  # type: ignore[arg-type]
    )
    return reply.project_dependencies


async def blocked(b: Board, **fields: object) -> commands_pb2.BlockedItemList:
    reply = await b.vic.request(
        "list_blocked_items",
        P.ListBlockedItems(project_id=b.project.id, **fields),  # type: ignore[arg-type]
    )
    return reply.blocked_items


def summary(listed: commands_pb2.BlockedItemList) -> list[tuple[str, list[str]]]:
    return [
        (entry.item.display_key, [b.display_key for b in entry.blockers]) for entry in listed.items
    ]


async def test_list_project_dependencies_returns_every_link_with_display_keys(
    server: Server,
) -> None:
    b = await board(server)
    a, c, d = await items(b, "A", "C", "D")
    first = await link(b.bob, a, c)
    second = await link(b.bob, c, d)
    related = await link(b.bob, d, a, RELATES_TO)
    last = [await b.vic.next_event() for _ in range(3)][-1]

    listed = await all_dependencies(b)
    assert [x.id for x in listed.dependencies] == [first.id, second.id, related.id]
    assert dict(listed.display_keys) == {a: "PM-1", c: "PM-2", d: "PM-3"}
    assert (listed.seq, listed.next_after) == (last.seq, "")

    only_blocks = await all_dependencies(b, types=[BLOCKS])
    assert [x.id for x in only_blocks.dependencies] == [first.id, second.id]

    # A deleted dependency is gone from the list, and the watcher saw it go.
    await b.bob.request("delete_dependency", P.DeleteDependency(dependency_id=second.id))
    assert (await b.vic.next_event()).entity_id == second.id
    assert [x.id for x in (await all_dependencies(b)).dependencies] == [first.id, related.id]


async def test_list_project_dependencies_pages_through_all_of_them(server: Server) -> None:
    b = await board(server)
    ids = await items(b, *(f"T{i}" for i in range(6)))
    made = [(await link(b.bob, ids[i], ids[i + 1])).id for i in range(5)]
    seen: list[str] = []
    after = ""
    pages = 0
    while True:
        page = await all_dependencies(b, limit=2, after=after)
        seen += [x.id for x in page.dependencies]
        pages += 1
        if not page.next_after:
            break
        after = page.next_after
    assert seen == made
    assert pages == 3


async def test_list_blocked_items_names_open_items_with_open_blockers(server: Server) -> None:
    b = await board(server)
    api, form, docs, other = await items(b, "API", "Form", "Docs", "Other")
    await link(b.bob, api, form)  # the form waits for the API
    await link(b.bob, docs, form)  # and for the docs
    await link(b.bob, api, other, RELATES_TO)  # not a blocker
    for _ in range(3):
        await b.vic.next_event()
    assert summary(await blocked(b)) == [("PM-2", ["PM-1", "PM-3"])]

    # A blocker done no longer blocks; the watcher sees the change that unblocked it.
    await update(b.bob, api, status=DONE)
    done = await b.vic.next_event()
    listed = await blocked(b)
    assert summary(listed) == [("PM-2", ["PM-3"])]
    assert listed.seq == done.seq
    await update(b.bob, docs, status=DONE)
    await b.vic.next_event()
    assert summary(await blocked(b)) == []

    # A done item is never blocked, even with an open blocker.
    fresh = (await new_item(b.bob, b.project.id, "Fresh")).id
    await link(b.bob, fresh, other)
    assert summary(await blocked(b)) == [("PM-4", ["PM-5"])]
    await update(b.bob, other, status=DONE)
    assert summary(await blocked(b)) == []


async def test_list_blocked_items_pages_by_item_number(server: Server) -> None:
    b = await board(server)
    ids = await items(b, *(f"T{i}" for i in range(7)))
    for i in range(6):  # a chain: every item but the first is blocked by the one before
        await link(b.bob, ids[i], ids[i + 1])
    seen: list[str] = []
    after = ""
    while True:
        page = await blocked(b, limit=4, after=after)
        seen += [entry.item.display_key for entry in page.items]
        if not page.next_after:
            break
        after = page.next_after
    assert seen == [f"PM-{n}" for n in range(2, 8)]


async def test_project_reads_refuse_bad_cursors_and_limits(server: Server) -> None:
    b = await board(server)
    cases = [
        ("list_project_dependencies", P.ListProjectDependencies, "after", "not-a-cursor"),
        ("list_project_dependencies", P.ListProjectDependencies, "limit", 1001),
        ("list_project_dependencies", P.ListProjectDependencies, "limit", -1),
        ("list_blocked_items", P.ListBlockedItems, "after", "PM-3"),
        ("list_blocked_items", P.ListBlockedItems, "after", "\u0663"),
        ("list_blocked_items", P.ListBlockedItems, "limit", 5000),
    ]
    for name, message, field, value in cases:
        command = message(project_id=b.project.id, **{field: value})
        error = await b.vic.error(name, command)
        assert (code(error), error.field) == ("VALIDATION_ERROR", field), (name, value)


async def test_project_reads_of_a_project_one_cannot_read_are_not_found(server: Server) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    await link(b.bob, a, c)
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        for name, command in (
            ("list_project_dependencies", P.ListProjectDependencies(project_id=b.project.id)),
            ("list_blocked_items", P.ListBlockedItems(project_id=b.project.id)),
        ):
            error = await client.error(name, command)
            assert (code(error), error.entity, error.entity_id) == (
                "NOT_FOUND",
                "project",
                b.project.id,
            )
