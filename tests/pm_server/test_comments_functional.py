"""Comments over a real socket: create, edit (author only), delete (author or admin), list."""

from __future__ import annotations

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import Board, board, changes, code, new_item
from tests.pm_server.conftest import Server
from tests.pm_server.wsclient import WsClient

COMMENT = entities_pb2.ENTITY_TYPE_COMMENT


async def item_board(server: Server) -> tuple[Board, str]:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Discussed")
    await b.vic.next_event()
    return b, item.id


async def comment(client: WsClient, item_id: str, body: str) -> entities_pb2.Comment:
    reply = await client.request(
        "create_comment", commands_pb2.CreateComment(work_item_id=item_id, body=body)
    )
    return reply.comment.comment


async def test_create_comment_replies_and_watcher_sees_it(server: Server) -> None:
    b, item_id = await item_board(server)
    created = await comment(b.bob, item_id, "Looks good")
    assert (created.work_item_id, created.project_id) == (item_id, b.project.id)
    assert (created.author_id, created.body, created.version) == ("bob", "Looks good", 1)
    event = await b.vic.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.entity_id) == (
        COMMENT,
        entities_pb2.ACTION_CREATED,
        created.id,
    )
    assert event.comment == created


async def test_create_comment_refusals(server: Server) -> None:
    b, item_id = await item_board(server)
    viewer = await b.vic.error(
        "create_comment", commands_pb2.CreateComment(work_item_id=item_id, body="hi")
    )
    assert (code(viewer), viewer.rule) == ("FORBIDDEN", "role.editor")
    empty = await b.bob.error(
        "create_comment", commands_pb2.CreateComment(work_item_id=item_id, body="")
    )
    assert (code(empty), empty.field) == ("VALIDATION_ERROR", "body")
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error(
            "create_comment", commands_pb2.CreateComment(work_item_id=item_id, body="hi")
        )
        assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", item_id)
    await b.vic.no_event()


async def test_edit_comment_by_its_author_sends_the_body_change(server: Server) -> None:
    b, item_id = await item_board(server)
    created = await comment(b.bob, item_id, "frist")
    await b.vic.next_event()
    reply = await b.bob.request(
        "edit_comment",
        commands_pb2.EditComment(comment_id=created.id, expected_version=1, body="first"),
    )
    assert (reply.comment.comment.body, reply.comment.comment.version) == ("first", 2)
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        COMMENT,
        entities_pb2.ACTION_UPDATED,
        created.id,
    )
    assert changes(event) == {"body": ("frist", "first")}


async def test_edit_comment_by_anyone_but_the_author_is_forbidden_even_admins(
    server: Server,
) -> None:
    b, item_id = await item_board(server)
    created = await comment(b.bob, item_id, "mine")
    await b.vic.next_event()
    root = await server.client(user="root", admin=True)
    command = commands_pb2.EditComment(comment_id=created.id, body="theirs")
    for client in (b.alice, root, b.vic):  # project admin, tenant admin, viewer
        error = await client.error("edit_comment", command)
        assert code(error) == "FORBIDDEN"
    await b.vic.no_event()


async def test_edit_comment_with_stale_version_conflicts_with_current_comment(
    server: Server,
) -> None:
    b, item_id = await item_board(server)
    created = await comment(b.bob, item_id, "v1")
    await b.bob.request("edit_comment", commands_pb2.EditComment(comment_id=created.id, body="v2"))
    for _ in range(2):
        await b.vic.next_event()
    error = await b.bob.error(
        "edit_comment",
        commands_pb2.EditComment(comment_id=created.id, expected_version=1, body="stale"),
    )
    assert (code(error), error.entity, error.entity_id) == ("CONFLICT", "comment", created.id)
    assert (error.current_version, error.comment.body) == (2, "v2")
    outsider = await server.client(user="mallory")
    hidden = await outsider.error(
        "edit_comment", commands_pb2.EditComment(comment_id=created.id, body="x")
    )
    assert (code(hidden), hidden.entity, hidden.entity_id) == ("NOT_FOUND", "comment", created.id)
    await b.vic.no_event()


async def test_delete_comment_by_author_and_by_project_admin(server: Server) -> None:
    b, item_id = await item_board(server)
    own = await comment(b.bob, item_id, "own")
    moderated = await comment(b.bob, item_id, "rude")
    for _ in range(2):
        await b.vic.next_event()
    for client, target in ((b.bob, own), (b.alice, moderated)):
        reply = await client.request(
            "delete_comment",
            commands_pb2.DeleteComment(comment_id=target.id, expected_version=1),
        )
        assert reply.comment.comment.HasField("deleted_at")
        event = await b.vic.next_event()
        assert (event.entity_type, event.action, event.entity_id) == (
            COMMENT,
            entities_pb2.ACTION_DELETED,
            target.id,
        )
        assert event.actor_id == client.welcome.user.id
    listed = await b.vic.request("list_comments", commands_pb2.ListComments(work_item_id=item_id))
    assert list(listed.comments.comments) == []


async def test_delete_comment_by_another_editor_or_a_stranger_is_refused(server: Server) -> None:
    b, item_id = await item_board(server)
    created = await comment(b.bob, item_id, "bob's")
    await b.vic.next_event()
    carol = await server.client(user="carol")
    await b.alice.request(
        "add_member",
        commands_pb2.AddMember(
            project_id=b.project.id, user_id="carol", role=entities_pb2.ROLE_EDITOR
        ),
    )
    await b.vic.next_event()
    command = commands_pb2.DeleteComment(comment_id=created.id)
    other_editor = await carol.error("delete_comment", command)
    assert (code(other_editor), other_editor.rule) == ("FORBIDDEN", "role.admin")
    stale = await b.bob.error(
        "delete_comment", commands_pb2.DeleteComment(comment_id=created.id, expected_version=9)
    )
    assert (code(stale), stale.current_version) == ("CONFLICT", 1)
    stranger = await server.client(tenant="other", user="bob")
    hidden = await stranger.error("delete_comment", command)
    assert (code(hidden), hidden.entity, hidden.entity_id) == ("NOT_FOUND", "comment", created.id)
    await b.vic.no_event()


async def test_list_comments_oldest_first_paged_with_seq(server: Server) -> None:
    b, item_id = await item_board(server)
    bodies = [f"c{n}" for n in range(5)]
    for body in bodies:
        await comment(b.bob, item_id, body)
    last = [await b.vic.next_event() for _ in bodies][-1]
    reply = await b.vic.request("list_comments", commands_pb2.ListComments(work_item_id=item_id))
    assert [c.body for c in reply.comments.comments] == bodies
    assert reply.comments.seq == last.seq
    first_page = await b.vic.request(
        "list_comments", commands_pb2.ListComments(work_item_id=item_id, limit=2)
    )
    page = first_page.comments.comments
    assert [c.body for c in page] == ["c0", "c1"]
    rest = await b.vic.request(
        "list_comments",
        commands_pb2.ListComments(work_item_id=item_id, limit=10, after_id=page[-1].id),
    )
    assert [c.body for c in rest.comments.comments] == ["c2", "c3", "c4"]


async def test_list_comments_refusals(server: Server) -> None:
    b, item_id = await item_board(server)
    too_many = await b.vic.error(
        "list_comments", commands_pb2.ListComments(work_item_id=item_id, limit=100_000)
    )
    assert (code(too_many), too_many.field) == ("VALIDATION_ERROR", "limit")
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error("list_comments", commands_pb2.ListComments(work_item_id=item_id))
        assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", item_id)
