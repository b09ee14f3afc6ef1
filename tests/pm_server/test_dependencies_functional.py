"""Dependencies over a real socket: create (with the cycle refusal), delete, list both ways."""

from __future__ import annotations

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.boards import Board, board, code, new_item
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.wsclient import WsClient

BLOCKS = entities_pb2.DEPENDENCY_TYPE_BLOCKS
RELATES_TO = entities_pb2.DEPENDENCY_TYPE_RELATES_TO
DEPENDENCY = entities_pb2.ENTITY_TYPE_DEPENDENCY


async def items(b: Board, *titles: str) -> list[str]:
    """Create one task per title (the watcher's events consumed); return their ids."""
    ids = []
    for title in titles:
        ids.append((await new_item(b.alice, b.project.id, title)).id)
        await b.vic.next_event()
    return ids


async def link(
    client: WsClient, from_id: str, to_id: str, type: entities_pb2.DependencyType.ValueType = BLOCKS
) -> entities_pb2.Dependency:
    reply = await client.request(
        "create_dependency",
        commands_pb2.CreateDependency(from_item_id=from_id, to_item_id=to_id, type=type),
    )
    return reply.dependency.dependency


async def refuse_link(
    client: WsClient, from_id: str, to_id: str, type: entities_pb2.DependencyType.ValueType = BLOCKS
) -> envelope_pb2.Error:
    return await client.error(
        "create_dependency",
        commands_pb2.CreateDependency(from_item_id=from_id, to_item_id=to_id, type=type),
    )


async def test_create_dependency_replies_and_watcher_sees_it(server: Server) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    dependency = await link(b.bob, a, c)
    assert (dependency.from_item_id, dependency.to_item_id, dependency.type) == (a, c, BLOCKS)
    assert (dependency.project_id, dependency.created_by, dependency.version) == (
        b.project.id,
        "bob",
        1,
    )
    event = await b.vic.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.entity_id) == (
        DEPENDENCY,
        entities_pb2.ACTION_CREATED,
        dependency.id,
    )
    assert event.dependency == dependency


async def test_create_dependency_that_closes_a_cycle_names_the_cycle(server: Server) -> None:
    b = await board(server)
    a, bb, c = await items(b, "A", "B", "C")
    await link(b.bob, a, bb)
    await link(b.bob, bb, c)
    for _ in range(2):
        await b.vic.next_event()
    error = await refuse_link(b.bob, c, a)
    assert (code(error), error.rule, error.field) == (
        "VALIDATION_ERROR",
        "dependency.cycle",
        "to_item_id",
    )
    assert list(error.path) == [c, a, bb, c]
    # People read the message: it names the items by their display keys.
    assert error.message == "dependency would create a cycle: PM-3 -> PM-1 -> PM-2 -> PM-3"
    # relates_to has no direction: the same pair is fine.
    await link(b.bob, c, a, RELATES_TO)
    assert (await b.vic.next_event()).dependency.type == RELATES_TO
    await b.vic.no_event()


async def test_create_dependency_refuses_self_duplicates_and_cross_project(
    server: Server,
) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    itself = await refuse_link(b.bob, a, a)
    assert (code(itself), itself.rule) == ("VALIDATION_ERROR", "dependency.self")
    await link(b.bob, a, c)
    await b.vic.next_event()
    duplicate = await refuse_link(b.bob, a, c)
    assert code(duplicate) == "CONFLICT"
    other = await create_project(b.alice, "TWO", "Two")
    foreign = await new_item(b.alice, other.id, "Elsewhere")
    across = await refuse_link(b.alice, a, foreign.id)
    assert (code(across), across.rule) == ("VALIDATION_ERROR", "dependency.same_project")
    no_type = await b.bob.error(
        "create_dependency", commands_pb2.CreateDependency(from_item_id=a, to_item_id=c)
    )
    assert (code(no_type), no_type.field) == ("VALIDATION_ERROR", "type")
    await b.vic.no_event()


async def test_create_dependency_refusals_by_role_membership_and_tenant(server: Server) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    viewer = await refuse_link(b.vic, a, c)
    assert (code(viewer), viewer.rule) == ("FORBIDDEN", "role.editor")
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await refuse_link(client, a, c)
        assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", a)
    # An item of a project the caller cannot see is not found, not "another project".
    carol = await server.client(user="carol")
    secret = await create_project(carol, "SEC", "Secret")
    hidden = await new_item(carol, secret.id, "Hidden")
    error = await refuse_link(b.bob, a, hidden.id)
    assert (code(error), error.entity_id) == ("NOT_FOUND", hidden.id)
    await b.vic.no_event()


async def test_delete_dependency_replies_and_watcher_sees_it(server: Server) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    dependency = await link(b.bob, a, c)
    await b.vic.next_event()
    reply = await b.bob.request(
        "delete_dependency", commands_pb2.DeleteDependency(dependency_id=dependency.id)
    )
    deleted = reply.dependency.dependency
    assert (deleted.id, deleted.version) == (dependency.id, 2)
    assert deleted.HasField("deleted_at")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        DEPENDENCY,
        entities_pb2.ACTION_DELETED,
        dependency.id,
    )
    # Deleted means gone: deleting again is NOT_FOUND and the link can be made anew.
    again = await b.bob.error(
        "delete_dependency", commands_pb2.DeleteDependency(dependency_id=dependency.id)
    )
    assert (code(again), again.entity, again.entity_id) == ("NOT_FOUND", "dependency", deleted.id)
    await link(b.bob, a, c)


async def test_delete_dependency_refusals_by_role_membership_and_tenant(server: Server) -> None:
    b = await board(server)
    a, c = await items(b, "A", "C")
    dependency = await link(b.bob, a, c)
    await b.vic.next_event()
    command = commands_pb2.DeleteDependency(dependency_id=dependency.id)
    viewer = await b.vic.error("delete_dependency", command)
    assert code(viewer) == "FORBIDDEN"
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error("delete_dependency", command)
        assert (code(error), error.entity, error.entity_id) == (
            "NOT_FOUND",
            "dependency",
            dependency.id,
        )
    await b.vic.no_event()
    listed = await b.vic.request("list_dependencies", commands_pb2.ListDependencies(item_id=a))
    assert [d.id for d in listed.dependencies.outgoing] == [dependency.id]


async def test_list_dependencies_in_both_directions(server: Server) -> None:
    b = await board(server)
    a, mid, c = await items(b, "A", "Mid", "C")
    first = await link(b.bob, a, mid)
    second = await link(b.bob, mid, c)
    related = await link(b.bob, c, mid, RELATES_TO)
    last = [await b.vic.next_event() for _ in range(3)][-1]
    reply = await b.vic.request("list_dependencies", commands_pb2.ListDependencies(item_id=mid))
    listed = reply.dependencies
    assert [d.id for d in listed.outgoing] == [second.id]
    assert [d.id for d in listed.incoming] == [first.id, related.id]
    assert listed.seq == last.seq


async def test_list_dependencies_refusals(server: Server) -> None:
    b = await board(server)
    (a,) = await items(b, "A")
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error("list_dependencies", commands_pb2.ListDependencies(item_id=a))
        assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", a)
        assert not error.HasField("dependency")
