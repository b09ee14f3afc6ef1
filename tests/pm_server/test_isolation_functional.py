"""Tenant isolation matrix: every id a command takes, aimed at another tenant's rows.

Tenant ``acme`` has a board of user ``a-owner`` (project, epic, stories, task,
sprint, comment, time entry, dependency, lane, llm_context row, a member, the
activity log). Two attackers aim at it:

- ``other_tenant``: a user of tenant ``globex`` whose subject is also
  ``a-owner``, with a board of its own in ``globex``;
- ``non_member``: ``mallory``, a user of ``acme`` itself who is no member of
  the board's project, with a project of her own.

For every command field that names a row (derived from the schema: every
field of a command ending in ``_id``/``_ids`` or named ``key``/``display_key``,
nested ones included), the attacker sends the command built around their own
rows with only that field replaced by the board's id, then again with an id
that never existed (a "ghost"). Whatever happens:

- no frame the attacker receives carries the board's content (its marker
  text, its ids, its users) beyond the id the attacker sent;
- the board's rows (and the tenant-wide ``llm_context`` rows) are unchanged,
  byte for byte in the database.

And per kind of field:

- a row reference (``DENY``): the answer is NOT_FOUND or FORBIDDEN and is the
  same as for the ghost id, so it does not even tell that the row exists;
- a cursor, a list filter or a no-op (``SAME_AS_GHOST``): any answer, but the
  same as for the ghost id;
- a user id (``TENANT_USER``): users are tenant-wide, so for the non-member
  only the two rules above hold; in the other tenant it is the ghost's answer;
- ``create_project.key`` (``NEW_KEY``): keys are unique per tenant, so the
  non-member gets CONFLICT (without the row); the other tenant creates its
  own project.

Then: no event of the board reaches an attacker; the namesake in the other
tenant sees nothing of the board owner's timer, projects, entries or request
ids; and a refused subscribe neither ends the subscriptions the client had
nor lets any event of the refused project through (presence included).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import pytest
import pytest_asyncio
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.isolation_seed import (
    STORY,
    BoardIds,
    diff_dumps,
    dump_tenant,
    project_rows,
    seed_board,
)
from tests.pm_server.wsclient import WsClient

#: The async tests share the module's server, so they share its event loop.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

TENANT_A: Final = "acme"
TENANT_B: Final = "globex"
MARKER_A: Final = "SECRET-A-c41f"
#: The request id of a mutation of the board's owner (the start of their timer).
SHARED_REQUEST_ID: Final = "shared-request-id"
#: A public address written out: saving a webhook with it needs no DNS.
PUBLIC_URL: Final = "https://93.184.215.14/hook"


class Expect(StrEnum):
    DENY = "deny"
    SAME_AS_GHOST = "same_as_ghost"
    TENANT_USER = "tenant_user"
    NEW_KEY = "new_key"


# -- the id fields of the schema ---------------------------------------------------


def _is_id_field(f: FieldDescriptor, nested: bool) -> bool:
    if f.type != FieldDescriptor.TYPE_STRING:
        return False
    return (
        f.name.endswith(("_id", "_ids"))
        or f.name in ("key", "display_key")
        or (nested and f.name == "id")
    )


def _id_paths(message: Descriptor, prefix: str = "", depth: int = 0) -> list[str]:
    paths = []
    for f in message.fields:
        if _is_id_field(f, nested=depth > 0):
            paths.append(prefix + f.name)
        elif f.message_type is not None and f.message_type.full_name.startswith("pm."):
            paths += _id_paths(f.message_type, f"{prefix}{f.name}.", depth + 1)
    return paths


def schema_id_fields() -> list[tuple[str, str]]:
    """(command, field path) for every id-carrying field of every command."""
    commands = envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields
    out = []
    for command in commands:
        assert command.message_type is not None
        out += [(command.name, path) for path in _id_paths(command.message_type)]
    return out


#: Item ids under other names than ``*_id`` (checked to exist in the schema below).
EXTRA_ID_FIELDS: Final = (
    ("list_work_items", "descendants_of"),
    ("list_work_items", "ancestors_of"),
    ("transition_sprint", "move_open_items_to"),
)

_D, _G, _U = Expect.DENY, Expect.SAME_AS_GHOST, Expect.TENANT_USER

#: (command, field) -> (what the board's value is, what must happen).
ID_FIELDS: Final[dict[tuple[str, str], tuple[str, Expect]]] = {
    ("create_project", "key"): ("key", Expect.NEW_KEY),
    ("update_project", "project_id"): ("project", _D),
    ("archive_project", "project_id"): ("project", _D),
    ("delete_project", "project_id"): ("project", _D),
    ("get_project", "project_id"): ("project", _D),
    ("get_project", "key"): ("key", _D),
    ("add_member", "project_id"): ("project", _D),
    ("add_member", "user_id"): ("user", _U),
    ("change_member_role", "project_id"): ("project", _D),
    ("change_member_role", "user_id"): ("user", _U),
    ("remove_member", "project_id"): ("project", _D),
    ("remove_member", "user_id"): ("user", _U),
    ("list_members", "project_id"): ("project", _D),
    ("create_work_item", "project_id"): ("project", _D),
    ("create_work_item", "parent_id"): ("epic", _D),
    ("create_work_item", "sprint_id"): ("sprint", _D),
    ("create_work_item", "assignee_id"): ("user", _U),
    ("update_work_item", "item_id"): ("story", _D),
    ("update_work_item", "parent_id"): ("epic", _D),
    ("update_work_item", "sprint_id"): ("sprint", _D),
    ("update_work_item", "assignee_id"): ("user", _U),
    ("delete_work_item", "item_id"): ("task", _D),
    ("get_work_item", "item_id"): ("story", _D),
    ("get_work_item", "display_key"): ("display_key", _D),
    ("list_work_items", "project_id"): ("project", _D),
    # Filters of a list of one's own project: a foreign id simply matches nothing.
    ("list_work_items", "sprint_id"): ("sprint", _G),
    ("list_work_items", "parent_id"): ("epic", _G),
    ("list_work_items", "assignee_id"): ("user", _U),
    ("list_work_items", "descendants_of"): ("epic", _D),
    ("list_work_items", "ancestors_of"): ("task", _D),
    ("bulk_update_work_items", "item_ids"): ("story", _D),
    ("bulk_update_work_items", "parent_id"): ("epic", _D),
    ("bulk_update_work_items", "sprint_id"): ("sprint", _D),
    ("bulk_update_work_items", "assignee_id"): ("user", _U),
    ("list_work_items", "label_ids"): ("label", _G),  # a filter: a foreign label matches nothing
    ("create_label", "project_id"): ("project", _D),
    ("update_label", "label_id"): ("label", _D),
    ("delete_label", "label_id"): ("label", _D),
    ("list_labels", "project_id"): ("project", _D),
    ("list_labels", "work_item_id"): ("story", _D),
    ("attach_label", "work_item_id"): ("story", _D),
    ("attach_label", "label_id"): ("label", _D),
    ("detach_label", "work_item_id"): ("story", _D),
    ("detach_label", "label_id"): ("label", _D),
    ("watch_work_item", "work_item_id"): ("story", _D),
    ("unwatch_work_item", "work_item_id"): ("story", _D),
    # Another user's notification is as good as none: nothing is marked.
    ("mark_notifications_read", "notification_ids"): ("notification", _G),
    ("search", "project_id"): ("project", _D),
    # Filters of a search of one's own projects: a foreign id simply matches nothing.
    ("search", "assignee_id"): ("user", _U),
    ("search", "sprint_id"): ("sprint", _G),
    ("search", "label_id"): ("label", _G),
    ("create_sprint", "project_id"): ("project", _D),
    ("update_sprint", "sprint_id"): ("sprint", _D),
    ("transition_sprint", "sprint_id"): ("sprint", _D),
    ("delete_sprint", "sprint_id"): ("sprint", _D),
    ("list_sprints", "project_id"): ("project", _D),
    ("transition_sprint", "move_open_items_to"): ("sprint", _D),
    ("get_sprint_report", "sprint_id"): ("sprint", _D),
    ("create_comment", "work_item_id"): ("story", _D),
    ("edit_comment", "comment_id"): ("comment", _D),
    ("delete_comment", "comment_id"): ("comment", _D),
    ("list_comments", "work_item_id"): ("story", _D),
    ("list_comments", "after_id"): ("comment", _G),  # a paging cursor
    ("start_timer", "work_item_id"): ("story", _D),
    ("create_time_entry", "work_item_id"): ("story", _D),
    ("update_time_entry", "entry_id"): ("entry", _D),
    ("delete_time_entry", "entry_id"): ("entry", _D),
    ("list_time_entries", "user_id"): ("user", _U),
    ("list_time_entries", "work_item_id"): ("story", _D),
    ("list_time_entries", "project_id"): ("project", _D),
    ("list_time_entries", "before_id"): ("entry", _G),  # a paging cursor
    ("create_dependency", "from_item_id"): ("story", _D),
    ("create_dependency", "to_item_id"): ("story2", _D),
    ("delete_dependency", "dependency_id"): ("dependency", _D),
    ("list_dependencies", "item_id"): ("story", _D),
    ("list_project_dependencies", "project_id"): ("project", _D),
    ("list_blocked_items", "project_id"): ("project", _D),
    ("create_swim_lane", "project_id"): ("project", _D),
    ("update_swim_lane", "lane_id"): ("lane", _D),
    ("delete_swim_lane", "lane_id"): ("lane", _D),
    ("list_swim_lanes", "project_id"): ("project", _D),
    ("list_activity", "project_id"): ("project", _D),
    ("list_activity", "entity.id"): ("entity", _D),  # expanded per entity type below
    ("list_activity", "before_id"): ("activity", _G),  # a paging cursor
    ("list_llm_context", "project_id"): ("project", _D),
    ("create_llm_context", "project_id"): ("project", _D),
    ("update_llm_context", "context_id"): ("context", _D),
    ("delete_llm_context", "context_id"): ("context", _D),
    ("get_context_pack", "project_id"): ("project", _D),
    ("join_presence", "project_id"): ("project", _D),
    ("leave_presence", "project_id"): ("project", _G),  # leaving where one is not: a no-op
    ("list_presence", "project_id"): ("project", _D),
    ("subscribe", "project_ids"): ("project", _D),
    ("unsubscribe", "project_ids"): ("project", _G),  # a no-op where not subscribed
    # Keys are tenant-wide and only tenant admins touch them: the attackers get the same
    # refusal for the tenant's key as for none (and a tenant admin of another tenant
    # NOT_FOUND: test_api_keys_functional).
    ("revoke_api_key", "api_key_id"): ("api_key", _D),
    # Webhooks likewise: tenant-wide, tenant admins only.
    ("create_webhook", "project_ids"): ("project", _D),
    ("update_webhook", "webhook_id"): ("webhook", _D),
    ("set_webhook_filters", "webhook_id"): ("webhook", _D),
    ("set_webhook_filters", "project_ids"): ("project", _D),
    ("rotate_webhook_secret", "webhook_id"): ("webhook", _D),
    ("pause_webhook", "webhook_id"): ("webhook", _D),
    ("resume_webhook", "webhook_id"): ("webhook", _D),
    ("delete_webhook", "webhook_id"): ("webhook", _D),
    ("list_webhook_deliveries", "webhook_id"): ("webhook", _D),
    ("list_webhook_deliveries", "before_id"): ("webhook", _D),
    ("redeliver_webhook", "webhook_id"): ("webhook", _D),
}

#: ``list_activity.entity.id``: one case per entity type, aimed at the row of that type.
ENTITY_KINDS: Final = {
    entities_pb2.ENTITY_TYPE_PROJECT: ("project", _D),
    entities_pb2.ENTITY_TYPE_MEMBER: ("member", _D),
    entities_pb2.ENTITY_TYPE_WORK_ITEM: ("story", _D),
    entities_pb2.ENTITY_TYPE_SPRINT: ("sprint", _D),
    entities_pb2.ENTITY_TYPE_COMMENT: ("comment", _D),
    entities_pb2.ENTITY_TYPE_TIME_ENTRY: ("entry", _D),
    entities_pb2.ENTITY_TYPE_DEPENDENCY: ("dependency", _D),
    entities_pb2.ENTITY_TYPE_SWIM_LANE: ("lane", _D),
    entities_pb2.ENTITY_TYPE_LLM_CONTEXT: ("context", _D),
    entities_pb2.ENTITY_TYPE_LABEL: ("label", _D),
    entities_pb2.ENTITY_TYPE_ITEM_LABEL: ("item_label", _D),
    entities_pb2.ENTITY_TYPE_WATCH: ("watch", _D),
    entities_pb2.ENTITY_TYPE_NOTIFICATION: ("notification", _D),
    # A user's own history is tenant-wide, as the user is.
    entities_pb2.ENTITY_TYPE_USER: ("user", _U),
}


@dataclass(frozen=True)
class Case:
    command: str
    path: str
    kind: str
    expect: Expect
    entity_type: int = 0

    @property
    def id(self) -> str:
        if self.entity_type:
            name = entities_pb2.EntityType.Name(self.entity_type)  # type: ignore[arg-type]
            return f"{self.command}.{self.path}[{name.removeprefix('ENTITY_TYPE_').lower()}]"
        return f"{self.command}.{self.path}"


def _cases() -> list[Case]:
    cases = []
    for (command, path), (kind, expect) in ID_FIELDS.items():
        if kind == "entity":
            for entity_type, (entity_kind, entity_expect) in ENTITY_KINDS.items():
                cases.append(Case(command, path, entity_kind, entity_expect, entity_type))
        else:
            cases.append(Case(command, path, kind, expect))
    return cases


CASES: Final = _cases()
ATTACKERS: Final = ("other_tenant", "non_member")


# -- commands built around the attacker's own rows ----------------------------------


def _past(hours: float) -> Timestamp:
    return to_timestamp(datetime.now(UTC) - timedelta(hours=hours))


P = commands_pb2
#: A valid command of each kind on the attacker's own board (optional ids left out).
BASES: Final[dict[str, Callable[[BoardIds], Message]]] = {
    "create_project": lambda o: P.CreateProject(key="NEWKEY", name="new"),
    "update_project": lambda o: P.UpdateProject(project_id=o.project_id, name="renamed"),
    "archive_project": lambda o: P.ArchiveProject(project_id=o.project_id),
    "delete_project": lambda o: P.DeleteProject(project_id=o.project_id),
    "get_project": lambda o: P.GetProject(project_id=o.project_id),
    "add_member": lambda o: P.AddMember(
        project_id=o.project_id, user_id=o.editor_id, role=entities_pb2.ROLE_VIEWER
    ),
    "change_member_role": lambda o: P.ChangeMemberRole(
        project_id=o.project_id, user_id=o.editor_id, role=entities_pb2.ROLE_VIEWER
    ),
    "remove_member": lambda o: P.RemoveMember(project_id=o.project_id, user_id=o.editor_id),
    "list_members": lambda o: P.ListMembers(project_id=o.project_id),
    "create_work_item": lambda o: P.CreateWorkItem(project_id=o.project_id, type=STORY, title="x"),
    "update_work_item": lambda o: P.UpdateWorkItem(item_id=o.story_id, title="retitled"),
    "delete_work_item": lambda o: P.DeleteWorkItem(item_id=o.task_id),
    "get_work_item": lambda o: P.GetWorkItem(item_id=o.story_id),
    "list_work_items": lambda o: P.ListWorkItems(project_id=o.project_id),
    "bulk_update_work_items": lambda o: P.BulkUpdateWorkItems(
        item_ids=[o.story_id], title="retitled"
    ),
    "create_sprint": lambda o: P.CreateSprint(project_id=o.project_id, name="s"),
    "update_sprint": lambda o: P.UpdateSprint(sprint_id=o.sprint_id, name="s2"),
    "transition_sprint": lambda o: P.TransitionSprint(
        sprint_id=o.sprint_id, status=entities_pb2.SPRINT_STATUS_ACTIVE
    ),
    "delete_sprint": lambda o: P.DeleteSprint(sprint_id=o.sprint_id),
    "list_sprints": lambda o: P.ListSprints(project_id=o.project_id),
    "get_sprint_report": lambda o: P.GetSprintReport(sprint_id=o.sprint_id),
    "create_comment": lambda o: P.CreateComment(work_item_id=o.story_id, body="b"),
    "edit_comment": lambda o: P.EditComment(comment_id=o.comment_id, body="b2"),
    "delete_comment": lambda o: P.DeleteComment(comment_id=o.comment_id),
    "list_comments": lambda o: P.ListComments(work_item_id=o.story_id),
    "start_timer": lambda o: P.StartTimer(work_item_id=o.story_id),
    "create_time_entry": lambda o: P.CreateTimeEntry(
        work_item_id=o.story_id, started_at=_past(4), ended_at=_past(3)
    ),
    "update_time_entry": lambda o: P.UpdateTimeEntry(entry_id=o.entry_id, note="n"),
    "delete_time_entry": lambda o: P.DeleteTimeEntry(entry_id=o.entry_id),
    "list_time_entries": lambda o: P.ListTimeEntries(project_id=o.project_id),
    "create_dependency": lambda o: P.CreateDependency(
        from_item_id=o.story_id,
        to_item_id=o.story2_id,
        type=entities_pb2.DEPENDENCY_TYPE_RELATES_TO,
    ),
    "delete_dependency": lambda o: P.DeleteDependency(dependency_id=o.dependency_id),
    "list_dependencies": lambda o: P.ListDependencies(item_id=o.story_id),
    "list_project_dependencies": lambda o: P.ListProjectDependencies(project_id=o.project_id),
    "list_blocked_items": lambda o: P.ListBlockedItems(project_id=o.project_id),
    "create_swim_lane": lambda o: P.CreateSwimLane(
        project_id=o.project_id, name="QA", status=entities_pb2.WORK_ITEM_STATUS_TODO
    ),
    "update_swim_lane": lambda o: P.UpdateSwimLane(lane_id=o.lane_id, name="QA2"),
    "delete_swim_lane": lambda o: P.DeleteSwimLane(lane_id=o.lane_id),
    "list_swim_lanes": lambda o: P.ListSwimLanes(project_id=o.project_id),
    "list_activity": lambda o: P.ListActivity(project_id=o.project_id),
    "list_llm_context": lambda o: P.ListLlmContext(project_id=o.project_id),
    "create_llm_context": lambda o: P.CreateLlmContext(
        project_id=o.project_id,
        context_type=entities_pb2.LLM_CONTEXT_TYPE_EXAMPLE,
        title="t",
        content="c",
    ),
    "update_llm_context": lambda o: P.UpdateLlmContext(context_id=o.context_id, title="t2"),
    "delete_llm_context": lambda o: P.DeleteLlmContext(context_id=o.context_id),
    "get_context_pack": lambda o: P.GetContextPack(project_id=o.project_id),
    "join_presence": lambda o: P.JoinPresence(project_id=o.project_id),
    "leave_presence": lambda o: P.LeavePresence(project_id=o.project_id),
    "list_presence": lambda o: P.ListPresence(project_id=o.project_id),
    "subscribe": lambda o: P.Subscribe(project_ids=[o.project_id]),
    "unsubscribe": lambda o: P.Unsubscribe(project_ids=[o.project_id]),
    "revoke_api_key": lambda o: P.RevokeApiKey(api_key_id=o.api_key_id),
    "create_webhook": lambda o: P.CreateWebhook(
        name="hook", url=PUBLIC_URL, project_ids=[o.project_id]
    ),
    "update_webhook": lambda o: P.UpdateWebhook(webhook_id=o.webhook_id, name="renamed"),
    "set_webhook_filters": lambda o: P.SetWebhookFilters(
        webhook_id=o.webhook_id, project_ids=[o.project_id]
    ),
    "rotate_webhook_secret": lambda o: P.RotateWebhookSecret(webhook_id=o.webhook_id),
    "pause_webhook": lambda o: P.PauseWebhook(webhook_id=o.webhook_id),
    "resume_webhook": lambda o: P.ResumeWebhook(webhook_id=o.webhook_id),
    "delete_webhook": lambda o: P.DeleteWebhook(webhook_id=o.webhook_id),
    "list_webhook_deliveries": lambda o: P.ListWebhookDeliveries(webhook_id=o.webhook_id),
    "redeliver_webhook": lambda o: P.RedeliverWebhook(webhook_id=o.webhook_id, seq=1),
    "create_label": lambda o: P.CreateLabel(project_id=o.project_id, name="new label"),
    "update_label": lambda o: P.UpdateLabel(label_id=o.label_id, name="renamed"),
    "delete_label": lambda o: P.DeleteLabel(label_id=o.label_id),
    "list_labels": lambda o: P.ListLabels(project_id=o.project_id),
    "attach_label": lambda o: P.AttachLabel(work_item_id=o.story2_id, label_id=o.label_id),
    "detach_label": lambda o: P.DetachLabel(work_item_id=o.story_id, label_id=o.label_id),
    "search": lambda o: P.Search(query="story"),
    "watch_work_item": lambda o: P.WatchWorkItem(work_item_id=o.story2_id),
    "unwatch_work_item": lambda o: P.UnwatchWorkItem(work_item_id=o.story_id),
    "mark_notifications_read": lambda o: P.MarkNotificationsRead(notification_ids=["n"]),
}


def value_of(board: BoardIds, kind: str) -> str:
    """The board's id of ``kind``."""
    names = {
        "project": "project_id",
        "key": "key",
        "display_key": "story_display_key",
        "epic": "epic_id",
        "story": "story_id",
        "story2": "story2_id",
        "task": "task_id",
        "sprint": "sprint_id",
        "comment": "comment_id",
        "entry": "entry_id",
        "dependency": "dependency_id",
        "lane": "lane_id",
        "context": "context_id",
        "member": "member_id",
        "activity": "activity_id",
        "user": "editor_id",
        "api_key": "api_key_id",
        "webhook": "webhook_id",
        "label": "label_id",
        "item_label": "item_label_id",
        "watch": "watch_id",
        "notification": "notification_id",
    }
    value: str = getattr(board, names[kind])
    return value


def ghost_of(kind: str, real: str) -> str:
    """An id of ``kind`` that never existed anywhere, shaped like ``real``.

    Row ids are time-ordered UUIDv7s and paging cursors compare them, so the
    ghost keeps the real id's timestamp (its first 18 characters) and
    replaces the rest: it sorts where the real one does.
    """
    if kind == "key":
        return "GHOSTK"
    if kind == "display_key":
        return "GHOSTK-1"
    if kind == "user":
        return "ghost-user"
    return real[:18] + str(uuid.uuid4())[18:]


def build(case: Case, own: BoardIds, value: str) -> Message:
    """The attacker's own command with ``case.path`` set to ``value``."""
    command = BASES[case.command](own)
    if case.path == "entity.id":
        assert isinstance(command, P.ListActivity)
        command.entity.type = case.entity_type  # type: ignore[assignment]
        command.entity.id = value
        return command
    if case.path.endswith("_ids"):
        repeated = getattr(command, case.path)
        del repeated[:]
        # Subscribing mixes the attacker's own project with the board's.
        repeated.extend([own.project_id, value] if case.command == "subscribe" else [value])
        return command
    setattr(command, case.path, value)
    if case.path == "before_id" and case.command == "list_time_entries":
        command.before_started_at.CopyFrom(to_timestamp(datetime.now(UTC)))  # type: ignore[attr-defined]
    return command


# -- the world ------------------------------------------------------------------------


@dataclass
class World:
    server: Server
    data_dir: Path
    board: BoardIds
    owner: WsClient
    attackers: dict[str, tuple[WsClient, BoardIds]] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data_dir = tmp_path_factory.mktemp("isolation") / "data"
    server, runner = await start_server(data_dir)
    try:
        owner = await server.client(TENANT_A, "a-owner")
        editor = await server.client(TENANT_A, "a-editor")
        board = await seed_board(owner, "a-editor", "SECA", MARKER_A)
        inbox = await editor.request("list_notifications", P.ListNotifications())
        (notification,) = inbox.notifications.notifications
        board = dataclasses.replace(board, notification_id=notification.id)
        # A live API key of the tenant, created by a tenant admin of it.
        admin = await server.client(TENANT_A, "a-admin", admin=True)
        key = await admin.request("create_api_key", P.CreateApiKey(name=f"{MARKER_A} bot"))
        board = dataclasses.replace(board, api_key_id=key.api_key.api_key.id)
        # And a webhook of it, paused so that nothing is posted anywhere.
        hook = await admin.request(
            "create_webhook",
            P.CreateWebhook(
                name=f"{MARKER_A} hook", url=PUBLIC_URL, project_ids=[board.project_id]
            ),
        )
        await admin.request("pause_webhook", P.PauseWebhook(webhook_id=hook.webhook.webhook.id))
        board = dataclasses.replace(board, webhook_id=hook.webhook.webhook.id)
        # A running timer and a presence of the board's owner, for namesakes and strangers.
        await owner.request(
            "start_timer",
            P.StartTimer(work_item_id=board.task_id, note=MARKER_A),
            request_id=SHARED_REQUEST_ID,
        )
        await owner.request("join_presence", P.JoinPresence(project_id=board.project_id))

        # The other tenant's user has the very same subject as the board's owner.
        namesake = await server.client(TENANT_B, "a-owner")
        await server.client(TENANT_B, "g-editor")
        namesake_board = await seed_board(namesake, "g-editor", "OWNB", "own-b")
        mallory = await server.client(TENANT_A, "mallory")
        await server.client(TENANT_A, "m-editor")
        mallory_board = await seed_board(mallory, "m-editor", "OWNM", "own-m")
        for client, own in ((namesake, namesake_board), (mallory, mallory_board)):
            await client.request("subscribe", P.Subscribe(project_ids=[own.project_id]))
        world = World(server, data_dir, board, owner)
        world.attackers = {
            "other_tenant": (namesake, namesake_board),
            "non_member": (mallory, mallory_board),
        }
        yield world
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()


def board_state(world: World) -> dict[str, Any]:
    """The board's rows, its users' rows and the tenant-wide rows, as stored."""
    dump = dump_tenant(world.data_dir, TENANT_A)
    return project_rows(dump, [world.board.project_id], ["a-owner", "a-editor"])


def leak_markers(board: BoardIds, attacker_subject: str) -> list[str]:
    users = [u for u in (board.owner_id, board.editor_id) if u != attacker_subject]
    return [board.marker, board.key, *board.row_ids(), *users]


def leaks(
    frames: list[envelope_pb2.ServerMessage], sent: list[str], markers: list[str]
) -> list[tuple[str, envelope_pb2.ServerMessage]]:
    """Markers found in ``frames`` once every value the attacker sent is blanked out."""
    found = []
    for frame in frames:
        blob = frame.SerializeToString()
        for value in sorted(sent, key=len, reverse=True):
            blob = blob.replace(value.encode(), b"")
        found += [(m, frame) for m in markers if m.encode() in blob]
    return found


_VOLATILE: Final = {"requestId", "seq", "serverTime"}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def normalised(answer: envelope_pb2.ServerMessage, sent: str) -> str:
    """The answer without its request id and snapshot seq, the id sent as ``<ID>``."""
    text = json.dumps(_scrub(MessageToDict(answer)), sort_keys=True)
    return text.replace(sent, "<ID>")


def code_of(answer: envelope_pb2.ServerMessage) -> str:
    if answer.WhichOneof("kind") != "error":
        return "reply"
    return envelope_pb2.ErrorCode.Name(answer.error.code)


# -- the tests ----------------------------------------------------------------------------


def test_matrix_covers_every_id_field_of_the_schema() -> None:
    derived = set(schema_id_fields())
    table = set(ID_FIELDS) - set(EXTRA_ID_FIELDS)
    assert derived == table, (
        f"classify new id fields: {sorted(derived - table)}; gone: {sorted(table - derived)}"
    )
    for command, name in EXTRA_ID_FIELDS:
        cmd = getattr(commands_pb2, "".join(p.title() for p in command.split("_")))
        assert cmd.DESCRIPTOR.fields_by_name[name].type == FieldDescriptor.TYPE_STRING
    assert set(BASES) >= {command for command, _ in ID_FIELDS}
    covered = {t for c in CASES if c.entity_type for t in [c.entity_type]}
    assert covered == set(entities_pb2.EntityType.values()) - {0}


@ON_MODULE_LOOP
@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_foreign_id_reveals_and_changes_nothing(
    world: World, case: Case, attacker: str
) -> None:
    client, own = world.attackers[attacker]
    board = world.board
    before = board_state(world)
    first_frame = len(client.frames)

    value = value_of(board, case.kind)
    answer = await client.call(case.command, build(case, own, value))
    ghost = ghost_of(case.kind, value)
    ghost_answer = None
    if case.expect != Expect.NEW_KEY:
        ghost_answer = await client.call(case.command, build(case, own, ghost))

    received = client.frames[first_frame:]
    found = leaks(received, [value], leak_markers(board, client.welcome.user.id))
    assert not found, f"{case.id} by {attacker} leaked {[m for m, _ in found]}: {found[0][1]}"
    changes = diff_dumps(before, board_state(world))
    assert not changes, f"{case.id} by {attacker} changed the board: {changes}"

    code = code_of(answer)
    if case.expect == Expect.NEW_KEY:
        if attacker == "other_tenant":  # another tenant's keys are its own business
            assert code == "reply", answer
            # Delete it again, so the key means the board's project in later cases.
            created = answer.reply.project.project
            await client.request("delete_project", P.DeleteProject(project_id=created.id))
        else:
            assert code == "CONFLICT", answer
            assert answer.error.WhichOneof("current") is None, answer
        return
    assert ghost_answer is not None
    if case.expect == Expect.TENANT_USER and attacker == "non_member":
        return  # users are tenant-wide: the two checks above are what matters
    if case.expect == Expect.DENY:
        assert code in ("NOT_FOUND", "FORBIDDEN"), f"{case.id} by {attacker}: {answer}"
    assert normalised(answer, value) == normalised(ghost_answer, ghost), (
        f"{case.id} by {attacker} answers differently for an existing row than for none:\n"
        f"  board's id: {answer}\n  ghost id:   {ghost_answer}"
    )


@ON_MODULE_LOOP
async def test_board_events_reach_no_attacker(world: World) -> None:
    starts = {name: len(client.frames) for name, (client, _) in world.attackers.items()}
    reply = await world.owner.request(
        "update_work_item",
        P.UpdateWorkItem(item_id=world.board.story_id, title=f"{MARKER_A} changed"),
    )
    assert reply.work_item.item.title.endswith("changed")
    for name, (client, own) in world.attackers.items():
        # Subscribed afresh (whatever earlier cases did to it), a write of the attacker's
        # own after the board's proves the stream is live and carried nothing of the board.
        await client.request("subscribe", P.Subscribe(project_ids=[own.project_id]))
        await client.request(
            "update_project", P.UpdateProject(project_id=own.project_id, description="live")
        )
        event = await client.next_event()
        while event.project.description != "live":  # skip events of earlier tests
            assert event.project_id == own.project_id
            event = await client.next_event()
        received = client.frames[starts[name] :]
        assert not leaks(received, [], leak_markers(world.board, client.welcome.user.id))


@ON_MODULE_LOOP
async def test_namesake_in_another_tenant_sees_none_of_the_users_data(world: World) -> None:
    namesake, own = world.attackers["other_tenant"]
    assert namesake.welcome.user.id == world.board.owner_id

    running = await namesake.request("get_running_timer", P.GetRunningTimer())
    assert not running.running_timer.HasField("entry")
    error = await namesake.error("stop_timer", P.StopTimer())
    assert envelope_pb2.ErrorCode.Name(error.code) == "NOT_FOUND"
    projects = await namesake.request("list_projects", P.ListProjects(include_archived=True))
    assert own.project_id in {p.id for p in projects.projects.projects}
    assert world.board.project_id not in {p.id for p in projects.projects.projects}
    assert all(MARKER_A not in p.name for p in projects.projects.projects)
    entries = await namesake.request("list_time_entries", P.ListTimeEntries())
    assert {e.project_id for e in entries.time_entries.entries} <= {own.project_id}
    contexts = await namesake.request("list_llm_context", P.ListLlmContext())
    assert all(MARKER_A not in c.title for c in contexts.llm_contexts.contexts)

    # The board owner's timer still runs.
    mine = await world.owner.request("get_running_timer", P.GetRunningTimer())
    assert mine.running_timer.entry.work_item_id == world.board.task_id


@ON_MODULE_LOOP
async def test_request_id_of_another_tenants_namesake_is_no_replay(world: World) -> None:
    namesake, _ = world.attackers["other_tenant"]
    stored = project_rows(dump_tenant(world.data_dir, TENANT_A), [], ["a-owner"])
    assert ("a-owner", SHARED_REQUEST_ID) in {
        (row["user_id"], row["request_id"]) for row in stored["idempotency_keys"]
    }
    reply = await namesake.request(
        "create_project",
        P.CreateProject(key="REPLAY", name="mine"),
        request_id=SHARED_REQUEST_ID,
    )
    project = reply.project.project
    assert (project.key, project.name) == ("REPLAY", "mine")
    assert project.id != world.board.project_id


# -- subscriptions that are refused ---------------------------------------------------------


async def test_refused_subscribe_keeps_the_subscriptions_it_named(server: Server) -> None:
    """Naming a foreign project next to one's own must not end the own subscription."""
    owner = await server.client(TENANT_A, "a-owner")
    foreign = await create_project(owner, "SECA", MARKER_A)
    mallory = await server.client(TENANT_A, "mallory")
    mine = await create_project(mallory, "OWNM", "mine")
    await mallory.request("subscribe", P.Subscribe(project_ids=[mine.id]))

    error = await mallory.error("subscribe", P.Subscribe(project_ids=[mine.id, foreign.id]))
    assert envelope_pb2.ErrorCode.Name(error.code) == "NOT_FOUND"

    await mallory.request("update_project", P.UpdateProject(project_id=mine.id, name="renamed"))
    event = await mallory.next_event()
    assert (event.project_id, event.project.name) == (mine.id, "renamed")


async def test_refused_subscribe_delivers_no_presence_of_the_project(server: Server) -> None:
    """While a subscribe is being refused, nothing of the project reaches the client.

    The board's owner comes and goes (presence events) while a non-member keeps
    asking to subscribe to the board; every request is refused, and not one
    event of the board may arrive.
    """
    owner = await server.client(TENANT_A, "a-owner")
    board = await create_project(owner, "SECA", MARKER_A)
    mallory = await server.client(TENANT_A, "mallory")
    done = asyncio.Event()

    async def come_and_go() -> None:
        while not done.is_set():
            await owner.request("join_presence", P.JoinPresence(project_id=board.id))
            await owner.request("leave_presence", P.LeavePresence(project_id=board.id))

    presence = asyncio.ensure_future(come_and_go())
    try:
        for _ in range(200):
            answer = await mallory.call("subscribe", P.Subscribe(project_ids=[board.id]))
            assert code_of(answer) == "NOT_FOUND"
    finally:
        done.set()
        await presence
    leaked = mallory.drain_events()
    assert not leaked, f"{len(leaked)} events of a project she may not see, e.g. {leaked[0]}"
