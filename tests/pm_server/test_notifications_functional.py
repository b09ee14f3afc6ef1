"""Notifications over a real socket: who is notified of what, live on their own inbox only.

Every test has a tenant of its own (inboxes are per user and tenant) on the module's
server. "Nobody else was notified" is shown without waiting on a clock: after the change,
each other user gets a notification of their own (a sentinel), and the first event on
their inbox must be that sentinel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import Board, board, code, new_item, update
from tests.pm_server.conftest import Server
from tests.pm_server.module_server import ON_MODULE_LOOP, next_key, shared_server
from tests.pm_server.wsclient import WsClient

pytestmark = ON_MODULE_LOOP
__all__ = ["shared_server"]

ASSIGNED = entities_pb2.NOTIFICATION_REASON_ASSIGNED
MENTIONED = entities_pb2.NOTIFICATION_REASON_MENTIONED
WATCHED = entities_pb2.NOTIFICATION_REASON_WATCHED
EDITOR = entities_pb2.ROLE_EDITOR


@dataclass
class Inboxes:
    """A board (alice admin, bob editor, vic viewer subscribed to the project) plus dan, an
    editor who makes the changes, and eve, a user of the tenant outside the project. alice,
    bob, dan and eve each have a connection subscribed to their inbox only."""

    b: Board
    dan: WsClient
    eve: WsClient
    inbox: dict[str, WsClient]


async def subscribe_inbox(client: WsClient) -> commands_pb2.SubscribeReply:
    reply = await client.request("subscribe", commands_pb2.Subscribe(notifications=True))
    assert reply.subscribed.notifications
    return reply.subscribed


async def inboxes(server: Server) -> Inboxes:
    tenant = next_key("nt")
    b = await board(server, next_key("NT"), tenant=tenant)
    dan = await server.client(tenant, user="dan")
    eve = await server.client(tenant, user="eve")
    await add_member(b, "dan")
    inbox = {"alice": b.alice, "bob": b.bob, "dan": dan, "eve": eve}
    for client in inbox.values():
        await subscribe_inbox(client)
    return Inboxes(b, dan, eve, inbox)


async def add_member(b: Board, user: str) -> None:
    await b.alice.request(
        "add_member", commands_pb2.AddMember(project_id=b.project.id, user_id=user, role=EDITOR)
    )


async def notification(client: WsClient) -> entities_pb2.Notification:
    """The next event on ``client``'s connection, which must be a notification."""
    event = await client.next_event()
    assert event.WhichOneof("entity") == "notification", event
    assert event.project_id == ""
    assert event.seq == event.notification.seq
    return event.notification


async def sentinel(n: Inboxes, user: str) -> entities_pb2.Notification:
    """Assign ``user`` a fresh item (by dan; alice when ``user`` is dan): the notification
    it gets must be the next event on ``user``'s inbox."""
    actor = n.b.alice if user == "dan" else n.dan
    item = await new_item(actor, n.b.project.id, f"sentinel for {user}", assignee_id=user)
    got = await notification(n.inbox[user])
    assert (got.work_item_id, got.reason) == (item.id, ASSIGNED), got
    return got


async def nothing_else(n: Inboxes, *users: str) -> None:
    for user in users:
        await sentinel(n, user)


async def project_events_carry_no_notification(n: Inboxes, until: int) -> None:
    for event in await n.b.vic.events_until(until):
        assert event.WhichOneof("entity") != "notification", event


async def test_assigning_notifies_the_assignee_once_and_nobody_else(shared_server: Server) -> None:
    n = await inboxes(shared_server)
    item = await new_item(n.dan, n.b.project.id, "Fix login", assignee_id="bob")
    got = await notification(n.b.bob)
    assert (got.user_id, got.work_item_id, got.actor_id, got.reason) == (
        "bob",
        item.id,
        "dan",
        ASSIGNED,
    )
    assert got.project_id == n.b.project.id
    assert not got.HasField("read_at")
    # The actor, the other members, and the user outside the project: nothing.
    await nothing_else(n, "dan", "alice", "bob")
    # Assigning oneself notifies nobody; the creator and the assignee watch the item.
    mine = await new_item(n.dan, n.b.project.id, "Mine", assignee_id="dan")
    last = await sentinel(n, "dan")
    assert last.work_item_id != mine.id
    await project_events_carry_no_notification(n, last.seq)
    listed = await n.b.bob.request("list_notifications", commands_pb2.ListNotifications())
    assert [x.work_item_id for x in listed.notifications.notifications][-1] == item.id


async def test_a_mention_notifies_the_named_member_and_never_a_non_member(
    shared_server: Server,
) -> None:
    n = await inboxes(shared_server)
    item = await new_item(n.dan, n.b.project.id, "Checkout")  # dan alone watches it
    reply = await n.dan.request(
        "create_comment",
        commands_pb2.CreateComment(
            work_item_id=item.id, body="@Bob could you look? cc @eve, mail eve@example.com"
        ),
    )
    comment = reply.comment.comment
    got = await notification(n.b.bob)
    assert (got.reason, got.comment_id, got.work_item_id) == (MENTIONED, comment.id, item.id)
    await nothing_else(n, "alice", "dan", "bob")
    # eve was named but is no member: nothing then, and becoming one brings no backlog.
    await add_member(n.b, "eve")
    await nothing_else(n, "eve")
    # An edit notifies only whom it newly names.
    await n.dan.request(
        "edit_comment",
        commands_pb2.EditComment(comment_id=comment.id, body="@bob and now @Alice too"),
    )
    got = await notification(n.b.alice)
    assert (got.reason, got.comment_id) == (MENTIONED, comment.id)
    await nothing_else(n, "bob", "alice")


async def test_watchers_hear_of_changes_until_they_unwatch_or_leave(shared_server: Server) -> None:
    n = await inboxes(shared_server)
    item = await new_item(n.dan, n.b.project.id, "Search")
    reply = await n.b.bob.request(
        "watch_work_item", commands_pb2.WatchWorkItem(work_item_id=item.id)
    )
    watch = reply.watch.watch
    assert (watch.user_id, watch.work_item_id, watch.watching) == ("bob", item.id, True)
    again = await n.b.bob.request(
        "watch_work_item", commands_pb2.WatchWorkItem(work_item_id=item.id)
    )
    assert (again.watch.watch.id, again.watch.watch.version) == (watch.id, 1)  # no change
    await update(n.dan, item.id, title="Search v2")
    got = await notification(n.b.bob)
    assert (got.reason, got.work_item_id, got.actor_id) == (WATCHED, item.id, "dan")
    await nothing_else(n, "alice", "dan", "bob")
    # A comment on a watched item reaches its watchers: dan watches it as its creator.
    await n.b.bob.request(
        "create_comment", commands_pb2.CreateComment(work_item_id=item.id, body="on it")
    )
    got = await notification(n.dan)
    assert (got.reason, got.actor_id) == (WATCHED, "bob")
    assert got.HasField("comment_id")
    await nothing_else(n, "bob", "alice")

    # Removed from the project: no more notifications, though the watch is still there.
    await n.b.alice.request(
        "remove_member", commands_pb2.RemoveMember(project_id=n.b.project.id, user_id="bob")
    )
    await update(n.dan, item.id, title="Search v3")
    await add_member(n.b, "bob")
    await nothing_else(n, "bob")

    # Unwatched, by a chooser and by the creator: nothing more for either.
    await n.b.bob.request("unwatch_work_item", commands_pb2.UnwatchWorkItem(work_item_id=item.id))
    error = await n.b.bob.error(
        "unwatch_work_item", commands_pb2.UnwatchWorkItem(work_item_id=item.id)
    )
    assert (code(error), error.entity) == ("NOT_FOUND", "watch")
    unwatched = await n.dan.request(
        "unwatch_work_item", commands_pb2.UnwatchWorkItem(work_item_id=item.id)
    )
    assert not unwatched.watch.watch.watching
    await update(n.b.alice, item.id, title="Search v4")
    await nothing_else(n, "bob", "dan")
    # The project's subscribers see each choice as a watch event, and no notification.
    choices: list[tuple[str, bool]] = []
    while not choices or choices[-1] != ("dan", False):
        event = await n.b.vic.next_event()
        assert event.WhichOneof("entity") != "notification", event
        if event.WhichOneof("entity") == "watch":
            choices.append((event.watch.user_id, event.watch.watching))
    assert choices == [("bob", True), ("bob", False), ("dan", False)]


async def test_a_retried_command_notifies_once(shared_server: Server) -> None:
    n = await inboxes(shared_server)
    command = commands_pb2.CreateWorkItem(
        project_id=n.b.project.id,
        type=entities_pb2.WORK_ITEM_TYPE_TASK,
        title="Once",
        assignee_id="bob",
    )
    first = await n.dan.call("create_work_item", command, request_id="retry-1")
    second = await n.dan.call("create_work_item", command, request_id="retry-1")
    assert first.reply.work_item.item.id == second.reply.work_item.item.id
    got = await notification(n.b.bob)
    assert got.work_item_id == first.reply.work_item.item.id
    await nothing_else(n, "bob")
    listed = await n.b.bob.request("list_notifications", commands_pb2.ListNotifications())
    items = [x.work_item_id for x in listed.notifications.notifications]
    assert items.count(first.reply.work_item.item.id) == 1


async def test_listing_pages_by_cursor_and_marking_read(shared_server: Server) -> None:
    n = await inboxes(shared_server)
    items = [
        (await new_item(n.dan, n.b.project.id, f"Item {i}", assignee_id="bob")).id for i in range(5)
    ]
    seen = [(await notification(n.b.bob)).work_item_id for _ in items]
    assert seen == items

    async def page(**fields: Any) -> commands_pb2.NotificationList:
        reply = await n.b.bob.request(
            "list_notifications", commands_pb2.ListNotifications(**fields)
        )
        return reply.notifications

    first = await page(limit=2)
    assert [x.work_item_id for x in first.notifications] == items[::-1][:2]
    assert first.unread_count == 5
    assert first.next_cursor
    second = await page(limit=2, before=first.next_cursor)
    third = await page(limit=2, before=second.next_cursor)
    assert [x.work_item_id for x in (*second.notifications, *third.notifications)] == items[::-1][
        2:
    ]
    assert third.next_cursor == 0

    # Another user's ids mark nothing; bob's own mark exactly those.
    ids = [x.id for x in first.notifications]
    other = await n.dan.request(
        "mark_notifications_read", commands_pb2.MarkNotificationsRead(notification_ids=ids)
    )
    assert list(other.notifications_marked.notifications) == []
    marked = await n.b.bob.request(
        "mark_notifications_read", commands_pb2.MarkNotificationsRead(notification_ids=ids)
    )
    assert sorted(x.id for x in marked.notifications_marked.notifications) == sorted(ids)
    assert all(x.HasField("read_at") for x in marked.notifications_marked.notifications)
    assert marked.notifications_marked.unread_count == 3
    unread = await page(unread_only=True)
    assert [x.work_item_id for x in unread.notifications] == items[::-1][2:]
    everything = await n.b.bob.request(
        "mark_notifications_read", commands_pb2.MarkNotificationsRead()
    )
    assert everything.notifications_marked.unread_count == 0
    assert len(everything.notifications_marked.notifications) == 3
    assert list((await page(unread_only=True)).notifications) == []
    error = await n.b.bob.error("list_notifications", commands_pb2.ListNotifications(limit=501))
    assert (code(error), error.field) == ("VALIDATION_ERROR", "limit")


async def test_the_inbox_resumes_after_a_reconnect_with_no_loss_or_duplicate(
    shared_server: Server,
) -> None:
    n = await inboxes(shared_server)
    tenant = n.b.tenant
    first = await shared_server.client(tenant, user="bob")
    position = await subscribe_inbox(first)
    await first.close()
    missed = [
        (await new_item(n.dan, n.b.project.id, f"Missed {i}", assignee_id="bob")).id
        for i in range(3)
    ]
    bob = await shared_server.client(tenant, user="bob")
    resumed = await bob.request(
        "subscribe",
        commands_pb2.Subscribe(
            notifications=True,
            resume=commands_pb2.ResumePosition(epoch=position.epoch, seq=position.seq),
        ),
    )
    assert not resumed.subscribed.must_refetch
    replayed = [await notification(bob) for _ in missed]
    assert [x.work_item_id for x in replayed] == missed
    live = await new_item(n.dan, n.b.project.id, "Live", assignee_id="bob")
    got = await notification(bob)
    assert got.work_item_id == live.id
    assert got.seq > replayed[-1].seq
    # The inbox is subscribed on its own.
    error = await bob.error(
        "subscribe",
        commands_pb2.Subscribe(project_ids=[n.b.project.id], notifications=True),
    )
    assert (code(error), error.field) == ("VALIDATION_ERROR", "notifications")
