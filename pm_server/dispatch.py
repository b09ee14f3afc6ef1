"""Every command the server accepts, by its ``ClientMessage.command`` field name.

Reading this table shows the whole command surface. A parity test checks
that every command in the schema has a handler here and every handler a
command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from pm_server.context import Answer, Context
from pm_server.handlers import (
    activity,
    api_keys,
    comments,
    context_pack,
    dependencies,
    llm_context,
    members,
    presence,
    projects,
    reauthentication,
    sprints,
    subscriptions,
    swim_lanes,
    time_entries,
    users,
    work_items,
)

Handler = Callable[[Context, Any], Awaitable[Answer]]

HANDLERS: Final[Mapping[str, Handler]] = {
    "create_project": projects.create_project,
    "update_project": projects.update_project,
    "archive_project": projects.archive_project,
    "delete_project": projects.delete_project,
    "get_project": projects.get_project,
    "list_projects": projects.list_projects,
    "add_member": members.add_member,
    "change_member_role": members.change_member_role,
    "remove_member": members.remove_member,
    "list_members": members.list_members,
    "create_work_item": work_items.create_work_item,
    "update_work_item": work_items.update_work_item,
    "delete_work_item": work_items.delete_work_item,
    "get_work_item": work_items.get_work_item,
    "list_work_items": work_items.list_work_items,
    "bulk_update_work_items": work_items.bulk_update_work_items,
    "create_sprint": sprints.create_sprint,
    "update_sprint": sprints.update_sprint,
    "transition_sprint": sprints.transition_sprint,
    "delete_sprint": sprints.delete_sprint,
    "list_sprints": sprints.list_sprints,
    "create_comment": comments.create_comment,
    "edit_comment": comments.edit_comment,
    "delete_comment": comments.delete_comment,
    "list_comments": comments.list_comments,
    "start_timer": time_entries.start_timer,
    "stop_timer": time_entries.stop_timer,
    "create_time_entry": time_entries.create_time_entry,
    "update_time_entry": time_entries.update_time_entry,
    "delete_time_entry": time_entries.delete_time_entry,
    "list_time_entries": time_entries.list_time_entries,
    "get_running_timer": time_entries.get_running_timer,
    "create_dependency": dependencies.create_dependency,
    "delete_dependency": dependencies.delete_dependency,
    "list_dependencies": dependencies.list_dependencies,
    "list_project_dependencies": dependencies.list_project_dependencies,
    "list_blocked_items": dependencies.list_blocked_items,
    "create_swim_lane": swim_lanes.create_swim_lane,
    "update_swim_lane": swim_lanes.update_swim_lane,
    "delete_swim_lane": swim_lanes.delete_swim_lane,
    "list_swim_lanes": swim_lanes.list_swim_lanes,
    "list_activity": activity.list_activity,
    "list_llm_context": llm_context.list_llm_context,
    "create_llm_context": llm_context.create_llm_context,
    "update_llm_context": llm_context.update_llm_context,
    "delete_llm_context": llm_context.delete_llm_context,
    "get_context_pack": context_pack.get_context_pack,
    "join_presence": presence.join_presence,
    "leave_presence": presence.leave_presence,
    "list_presence": presence.list_presence,
    "subscribe": subscriptions.subscribe,
    "unsubscribe": subscriptions.unsubscribe,
    "ping": subscriptions.ping,
    "list_users": users.list_users,
    "invite_user": users.invite_user,
    "create_api_key": api_keys.create_api_key,
    "list_api_keys": api_keys.list_api_keys,
    "revoke_api_key": api_keys.revoke_api_key,
    "reauthenticate": reauthentication.reauthenticate,
}
