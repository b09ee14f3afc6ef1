"""The ``pm`` client commands of every entity against a live server: JSON and human output.

These run the real ``pm`` parser and commands in a worker thread (see
``InThreadCli``) so that a test can go through dozens of commands quickly;
the subprocess path is covered by the agent, watch and error tests.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
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
async def cli(server: Server, monkeypatch: pytest.MonkeyPatch) -> InThreadCli:
    for name in ("PM_URL", "PM_TOKEN", "PM_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    for user in ("bob", "carol"):  # users exist once they connected
        await server.client(user=user)
    return InThreadCli(server.ws_url, lambda user: server.token(user=user, admin=user == "root"))


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


async def js(cli: InThreadCli, *args: str, user: str = "alice", stdin: str = "") -> Any:
    """The command's JSON document (the command must succeed)."""
    return ok(await cli(*args, "--json", user=user, stdin=stdin)).json()


async def board(cli: InThreadCli) -> None:
    """PM: epic PM-1 > story PM-2 > tasks PM-3, PM-4."""
    ok(await cli("project", "create", "PM", "Board", "-d", "The board"))
    ok(await cli("item", "create", "-p", "PM", "--type", "epic", "Epic"))
    ok(await cli("item", "create", "--parent", "PM-1", "--type", "story", "Story", "--points", "3"))
    ok(await cli("item", "create", "--parent", "PM-2", "Task A"))
    ok(await cli("item", "create", "--parent", "pm-2", "Task B", "--assignee", "me"))


# -- projects and members -----------------------------------------------------------


async def test_project_commands_create_list_show_update_archive_delete(cli: InThreadCli):
    created = await js(cli, "project", "create", "pm", "Board")
    assert (created["key"], created["name"], created["status"], created["version"]) == (
        "PM",
        "Board",
        "active",
        1,
    )
    updated = await js(cli, "project", "update", "PM", "--name", "Big board", "--version", "1")
    assert (updated["name"], updated["version"]) == ("Big board", 2)
    shown = await js(cli, "project", "show", "PM")
    assert shown["project"]["id"] == created["id"]
    assert [(m["user_id"], m["role"]) for m in shown["members"]] == [("alice", "admin")]

    await js(cli, "project", "archive", "PM")
    assert (await js(cli, "project", "list"))["projects"] == []
    listed = await js(cli, "project", "list", "--archived")
    assert [(p["key"], p["status"]) for p in listed["projects"]] == [("PM", "archived")]

    deleted = await js(cli, "project", "delete", created["id"])
    assert deleted["deleted_at"] is not None
    gone = await cli("project", "show", "PM")
    assert (gone.code, gone.stderr.strip()) == (3, "pm: NOT_FOUND: project PM not found")


async def test_project_list_prints_a_table_for_people(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    ok(await cli("project", "create", "OPS", "Operations"))

    lines = ok(await cli("project", "list")).stdout.splitlines()

    assert lines[0].split() == ["KEY", "NAME", "STATUS", "CREATED", "ID"]
    assert sorted(line.split()[0] for line in lines[1:]) == ["OPS", "PM"]


async def test_member_commands_add_change_role_list_remove(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    added = await js(cli, "member", "add", "bob", "--role", "viewer", "-p", "PM")
    assert (added["user_id"], added["role"]) == ("bob", "viewer")
    forbidden = await cli("item", "create", "-p", "PM", "Nope", user="bob")
    assert forbidden.code == 9

    ok(await cli("member", "role", "bob", "editor", "-p", "PM"))
    ok(await cli("item", "create", "-p", "PM", "Now allowed", user="bob"))
    members = await js(cli, "member", "list", "-p", "PM")
    assert {(m["user_id"], m["role"]) for m in members["members"]} == {
        ("alice", "admin"),
        ("bob", "editor"),
    }
    ok(await cli("member", "remove", "bob", "-p", "PM"))
    assert (await cli("item", "list", "-p", "PM", user="bob")).code == 3


async def test_project_default_comes_from_pm_project(cli: InThreadCli, monkeypatch):
    ok(await cli("project", "create", "PM", "Board"))
    monkeypatch.setenv("PM_PROJECT", "PM")

    created = await js(cli, "item", "create", "No --project needed")

    assert created["display_key"] == "PM-1"


# -- work items -----------------------------------------------------------------------


async def test_item_create_under_a_parent_takes_the_parents_project(cli: InThreadCli):
    await board(cli)
    task = await js(cli, "item", "show", "PM-4")

    assert task["item"]["type"] == "task"
    assert task["item"]["assignee_id"] == "alice"
    story = await js(cli, "item", "show", "PM-2")
    assert [c["display_key"] for c in story["children"]] == ["PM-3", "PM-4"]
    assert story["item"]["story_points"] == 3


async def test_item_create_quiet_prints_only_the_key(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))

    result = ok(await cli("item", "create", "-q", "-p", "PM", "--type", "epic", "Epic"))

    assert result.stdout == "PM-1\n"


async def test_item_list_filters_by_type_status_parent_assignee_and_descendants(cli: InThreadCli):
    await board(cli)
    ok(await cli("item", "move", "PM-3", "--status", "done"))

    def keys(listing: dict[str, Any]) -> list[str]:
        return [item["display_key"] for item in listing["items"]]

    assert keys(await js(cli, "item", "list", "-p", "PM", "-t", "task")) == ["PM-3", "PM-4"]
    assert keys(await js(cli, "item", "list", "-p", "PM", "--open", "-t", "task")) == ["PM-4"]
    assert keys(await js(cli, "item", "list", "-p", "PM", "-s", "done")) == ["PM-3"]
    assert keys(await js(cli, "item", "list", "-p", "PM", "--parent", "none")) == ["PM-1"]
    assert keys(await js(cli, "item", "list", "-p", "PM", "--assignee", "me")) == ["PM-4"]
    assert keys(await js(cli, "item", "list", "-p", "PM", "--under", "PM-1")) == [
        "PM-2",
        "PM-3",
        "PM-4",
    ]


async def test_item_list_table_shows_keys_parents_and_sprints(cli: InThreadCli):
    await board(cli)
    ok(await cli("sprint", "create", "Sprint 1", "-p", "PM"))
    ok(await cli("item", "move", "PM-4", "--sprint", "sprint 1"))

    lines = ok(await cli("item", "list", "-p", "PM")).stdout.splitlines()

    assert lines[0].split() == [
        "KEY", "TYPE", "STATUS", "PRIORITY", "PTS", "ASSIGNEE", "SPRINT", "PARENT", "TITLE"
    ]  # fmt: skip
    assert re.match(r"PM-4\s+task\s+backlog\s+medium\s+alice\s+Sprint 1\s+PM-2\s+Task B$", lines[4])


async def test_item_update_changes_fields_and_clears_points(cli: InThreadCli):
    await board(cli)

    updated = await js(
        cli, "item", "update", "PM-2", "--title", "Renamed", "--priority", "high", "--clear-points"
    )

    assert (updated["title"], updated["priority"], updated["story_points"]) == (
        "Renamed",
        "high",
        None,
    )
    unassigned = await js(cli, "item", "update", "PM-4", "--assignee", "none")
    assert unassigned["assignee_id"] is None


async def test_item_dates_set_clear_and_filter(cli: InThreadCli):
    await board(cli)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    made = await js(cli, "item", "create", "-p", "PM", "Dated", "--start", "2026-01-02")
    assert (made["start_date"], made.get("due_date")) == ("2026-01-02", None)
    updated = await js(cli, "item", "update", made["display_key"], "--due", yesterday)
    assert updated["due_date"] == yesterday
    overdue = await js(cli, "item", "list", "-p", "PM", "--overdue")
    assert [item["title"] for item in overdue["items"]] == ["Dated"]
    before = await js(cli, "item", "list", "-p", "PM", "--due-before", "2000-01-01")
    assert before["items"] == []
    cleared = await js(cli, "item", "update", made["display_key"], "--due", "none")
    assert "due_date" not in cleared or cleared["due_date"] is None
    bad = await cli("item", "update", made["display_key"], "--due", "2026-02-30")
    assert bad.code != 0
    assert "due_date must be a date like 2026-12-07" in bad.stderr


async def test_label_create_attach_filter_detach_delete(cli: InThreadCli):
    await board(cli)
    made = await js(cli, "label", "create", "Bug", "-p", "PM", "--color", "#aa0000")
    assert (made["name"], made["color"]) == ("Bug", "#aa0000")
    await js(cli, "label", "attach", "PM-3", "bug")
    tagged = await js(cli, "item", "list", "-p", "PM", "--label", "BUG")
    assert [item["display_key"] for item in tagged["items"]] == ["PM-3"]
    again = await cli("label", "attach", "PM-3", "Bug")
    assert again.code != 0
    await js(cli, "label", "detach", "PM-3", "Bug")
    assert (await js(cli, "item", "list", "-p", "PM", "--label", "Bug"))["items"] == []
    listed = await js(cli, "label", "list", "-p", "PM")
    assert [label["name"] for label in listed["labels"]] == ["Bug"]
    await js(cli, "label", "delete", made["id"])
    assert (await js(cli, "label", "list", "-p", "PM"))["labels"] == []


async def test_item_search_finds_words_with_a_marked_snippet(cli: InThreadCli):
    await board(cli)
    ok(await cli("comment", "add", "PM-3", "the pangolin module fails"))
    found = await js(cli, "item", "search", "pango", "-p", "PM")
    assert [hit["item"]["display_key"] for hit in found["hits"]] == ["PM-3"]
    shown = ok(await cli("item", "search", "pangolin"))
    assert "PM-3" in shown.stdout
    assert "*pangolin*" in shown.stdout


async def test_item_bulk_changes_several_items_or_none(cli: InThreadCli):
    await board(cli)
    changed = await js(cli, "item", "bulk", "PM-3", "PM-4", "--status", "todo", "--assignee", "bob")
    assert [(i["display_key"], i["status"], i["assignee_id"]) for i in changed] == [
        ("PM-3", "todo", "bob"),
        ("PM-4", "todo", "bob"),
    ]
    refused = await cli(
        "item", "bulk", "PM-3", "PM-1", "--due", "2026-01-01", "--start", "2026-02-01"
    )
    assert refused.code != 0
    assert "PM-3 (" in refused.stderr
    assert "due_date must not be before start_date" in refused.stderr


async def test_item_move_changes_status_sprint_parent_and_board_order(cli: InThreadCli):
    await board(cli)
    ok(await cli("item", "create", "-p", "PM", "--type", "story", "Other story"))  # PM-5
    ok(await cli("sprint", "create", "Sprint 1", "-p", "PM"))
    ok(await cli("sprint", "start", "Sprint 1", "-p", "PM"))

    moved = await js(
        cli, "item", "move", "PM-3", "--status", "in-progress", "--sprint", "active",
        "--parent", "PM-5",
    )  # fmt: skip
    assert moved["status"] == "in_progress"
    assert moved["parent_id"] == (await js(cli, "item", "show", "PM-5"))["item"]["id"]
    assert moved["sprint_id"] is not None
    back = await js(cli, "item", "move", "PM-3", "--sprint", "backlog", "--parent", "none")
    assert (back["sprint_id"], back["parent_id"]) == (None, None)

    async def order() -> list[str]:
        return [i["display_key"] for i in (await js(cli, "item", "list", "-p", "PM"))["items"]]

    ok(await cli("item", "move", "PM-4", "--top"))
    assert (await order())[0] == "PM-4"
    ok(await cli("item", "move", "PM-4", "--bottom"))
    assert (await order())[-1] == "PM-4"
    ok(await cli("item", "move", "PM-4", "--before", "PM-2"))
    assert (await order())[:3] == ["PM-1", "PM-4", "PM-2"]
    ok(await cli("item", "move", "PM-1", "--after", "PM-3"))
    listed = await order()
    assert listed.index("PM-1") == listed.index("PM-3") + 1

    nothing = await cli("item", "move", "PM-4")
    assert (nothing.code, "say where to" in nothing.stderr) == (2, True)


async def test_item_delete_removes_a_leaf_and_refuses_a_parent(cli: InThreadCli):
    await board(cli)

    assert (await cli("item", "delete", "PM-2")).code == 4
    deleted = await js(cli, "item", "delete", "PM-4", "--version", "1")
    assert deleted["deleted_at"] is not None
    assert (await cli("item", "show", "PM-4")).code == 3


# -- sprints -------------------------------------------------------------------------------


async def test_sprint_complete_moves_unfinished_items_to_the_named_sprint(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    ok(await cli("sprint", "create", "Now", "-p", "PM"))
    ok(await cli("sprint", "create", "Next", "-p", "PM"))
    ok(await cli("sprint", "start", "Now", "-p", "PM"))
    ok(await cli("item", "create", "-p", "PM", "--type", "task", "Open work"))  # PM-1
    ok(await cli("item", "move", "PM-1", "--sprint", "active"))
    done = await js(cli, "sprint", "complete", "Now", "-p", "PM", "--move-to", "next")
    assert done["status"] == "completed"
    following = await js(cli, "sprint", "list", "-p", "PM", "-s", "planned")
    item = (await js(cli, "item", "show", "PM-1"))["item"]
    assert item["sprint_id"] == following["sprints"][0]["id"]


async def test_sprint_life_cycle_by_name(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    created = await js(
        cli, "sprint", "create", "Sprint 1", "-p", "PM", "--goal", "Ship",
        "--starts", "2026-03-02", "--ends", "2026-03-16T00:00:00+00:00",
    )  # fmt: skip
    assert (created["status"], created["goal"]) == ("planned", "Ship")
    assert created["ends_at"] == "2026-03-16T00:00:00.000000Z"

    renamed = await js(cli, "sprint", "update", "sprint 1", "-p", "PM", "--name", "S1")
    assert renamed["name"] == "S1"
    assert (await js(cli, "sprint", "start", "S1", "-p", "PM"))["status"] == "active"
    assert (await cli("sprint", "delete", "active", "-p", "PM")).code == 4  # DELETE_BLOCKED
    assert (await js(cli, "sprint", "complete", created["id"]))["status"] == "completed"

    ok(await cli("sprint", "create", "S2", "-p", "PM"))
    assert (await js(cli, "sprint", "cancel", "S2", "-p", "PM"))["status"] == "cancelled"
    ok(await cli("sprint", "create", "S3", "-p", "PM"))
    ok(await cli("sprint", "delete", "S3", "-p", "PM"))
    listed = await js(cli, "sprint", "list", "-p", "PM")
    assert [(s["name"], s["status"]) for s in listed["sprints"]] == [
        ("S1", "completed"),
        ("S2", "cancelled"),
    ]
    planned = await js(cli, "sprint", "list", "-p", "PM", "-s", "planned")
    assert planned["sprints"] == []


async def test_sprint_named_without_a_project_is_a_usage_error(cli: InThreadCli):
    result = await cli("sprint", "start", "Sprint 1")

    assert result.code == 2
    assert "--project" in result.stderr


# -- comments, timers, time entries ------------------------------------------------------


async def test_comment_add_from_stdin_edit_list_delete(cli: InThreadCli):
    await board(cli)
    first = await js(cli, "comment", "add", "PM-2", "-", stdin="From stdin\nwith two lines\n")
    second = await js(cli, "comment", "add", "PM-2", "Second")
    assert first["body"] == "From stdin\nwith two lines"

    edited = await js(cli, "comment", "edit", second["id"], "Second, edited", "--version", "1")
    assert edited["body"] == "Second, edited"
    assert (await cli("comment", "edit", second["id"], "Bob's?", user="bob")).code == 3
    ok(await cli("comment", "delete", first["id"]))
    listed = await js(cli, "comment", "list", "PM-2")
    assert [c["body"] for c in listed["comments"]] == ["Second, edited"]


async def test_timer_start_status_stop(cli: InThreadCli):
    await board(cli)
    assert (await js(cli, "timer", "status"))["entry"] is None
    assert ok(await cli("timer", "status")).stdout == "no timer running\n"

    started = await js(cli, "timer", "start", "PM-3", "--note", "first")
    switched = await js(cli, "timer", "start", "PM-4")
    assert switched["stopped"]["id"] == started["entry"]["id"]
    assert switched["stopped"]["ended_at"] is not None
    status = ok(await cli("timer", "status")).stdout
    assert status.startswith("timer running on PM-4 since ")

    stopped = await js(cli, "timer", "stop")
    assert stopped["id"] == switched["entry"]["id"]
    assert (await cli("timer", "stop")).code == 3


async def test_time_log_list_update_delete(cli: InThreadCli):
    await board(cli)
    logged = await js(cli, "time", "log", "PM-3", "--duration", "1h30m", "--note", "layout")
    assert logged["note"] == "layout"
    start = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    end = start + timedelta(minutes=45)
    ok(await cli("time", "log", "PM-4", "--start", start.isoformat(), "--end", end.isoformat()))

    mine = await js(cli, "time", "list")
    assert len(mine["entries"]) == 2
    of_item = await js(cli, "time", "list", "--item", "PM-3")
    assert [e["id"] for e in of_item["entries"]] == [logged["id"]]
    table = ok(await cli("time", "list", "-p", "PM")).stdout
    assert re.search(r"1h 30m\s+alice\s+PM-3\s+layout", table)
    assert re.search(r"45m\s+alice\s+PM-4", table)

    updated = await js(cli, "time", "update", logged["id"], "--note", "form layout")
    assert updated["note"] == "form layout"
    ok(await cli("time", "delete", logged["id"]))
    assert len((await js(cli, "time", "list"))["entries"]) == 1
    too_long = await cli("time", "log", "PM-3", "--duration", "25h")
    assert too_long.code == 2


# -- dependencies, lanes, activity ---------------------------------------------------------


async def test_dep_add_list_remove_by_keys(cli: InThreadCli):
    await board(cli)
    added = await js(cli, "dep", "add", "PM-3", "PM-4")
    assert added["type"] == "blocks"
    ok(await cli("dep", "add", "PM-4", "PM-1", "--type", "relates_to"))
    cycle = await cli("dep", "add", "PM-4", "PM-3")
    assert cycle.code == 2
    assert "dependency.cycle" in cycle.stderr

    listed = ok(await cli("dep", "list", "PM-4")).stdout.splitlines()
    assert [line.split()[:3] for line in listed[1:]] == [
        ["PM-4", "relates_to", "PM-1"],
        ["PM-3", "blocks", "PM-4"],
    ]
    ok(await cli("dep", "remove", "PM-3", "PM-4"))
    ok(await cli("dep", "remove", (await js(cli, "dep", "list", "PM-1"))["incoming"][0]["id"]))
    remaining = await js(cli, "dep", "list", "PM-4")
    assert (remaining["outgoing"], remaining["incoming"]) == ([], [])
    assert (await cli("dep", "remove", "PM-3", "PM-4")).code == 3


async def test_dep_all_and_blocked_read_the_whole_project(cli: InThreadCli):
    await board(cli)
    ok(await cli("dep", "add", "PM-3", "PM-4"))
    ok(await cli("dep", "add", "PM-2", "PM-4"))
    ok(await cli("dep", "add", "PM-4", "PM-1", "--type", "relates_to"))

    every = await js(cli, "dep", "all", "-p", "PM")
    assert [(d["from_key"], d["type"], d["to_key"]) for d in every["dependencies"]] == [
        ("PM-3", "blocks", "PM-4"),
        ("PM-2", "blocks", "PM-4"),
        ("PM-4", "relates_to", "PM-1"),
    ]
    only = await js(cli, "dep", "all", "-p", "PM", "--type", "relates_to")
    assert [d["to_key"] for d in only["dependencies"]] == ["PM-1"]

    lines = ok(await cli("dep", "blocked", "-p", "PM")).stdout.splitlines()
    assert lines[1].split()[:2] == ["PM-4", "backlog"]
    assert lines[1].endswith("PM-2, PM-3")
    ok(await cli("item", "move", "PM-3", "--status", "done"))
    blocked = await js(cli, "dep", "blocked", "-p", "PM")
    assert [
        (e["item"]["display_key"], [b["display_key"] for b in e["blockers"]])
        for e in blocked["items"]
    ] == [("PM-4", ["PM-2"])]
    ok(await cli("item", "move", "PM-2", "--status", "done"))
    assert ok(await cli("dep", "blocked", "-p", "PM")).stdout.strip() == "nothing is blocked"


async def test_lane_create_list_update_delete(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    defaults = (await js(cli, "lane", "list", "-p", "PM"))["lanes"]
    todo = next(entry["id"] for entry in defaults if entry["status"] == "todo")
    ok(await cli("lane", "delete", todo))  # one lane per status: the default makes way
    lane = await js(cli, "lane", "create", "Blocked", "--status", "todo", "--wip", "3", "-p", "PM")
    assert (lane["name"], lane["status"], lane["wip_limit"]) == ("Blocked", "todo", 3)

    updated = await js(cli, "lane", "update", lane["id"], "--clear-wip", "--name", "Waiting")
    assert (updated["name"], updated["wip_limit"]) == ("Waiting", None)
    names = [entry["name"] for entry in (await js(cli, "lane", "list", "-p", "PM"))["lanes"]]
    assert "Waiting" in names
    ok(await cli("lane", "delete", lane["id"]))
    names = [entry["name"] for entry in (await js(cli, "lane", "list", "-p", "PM"))["lanes"]]
    assert "Waiting" not in names


async def test_activity_of_an_item_and_of_a_project(cli: InThreadCli):
    await board(cli)
    ok(await cli("item", "move", "PM-3", "--status", "todo"))

    of_item = await js(cli, "activity", "PM-3")
    assert [(e["action"], e["field"]) for e in of_item["entries"]] == [
        ("updated", "status"),
        ("created", None),
    ]
    lines = ok(await cli("activity", "-p", "PM", "--limit", "3")).stdout.splitlines()
    assert lines[0].split() == ["WHEN", "WHO", "ACTION", "WHAT", "CHANGE"]
    assert re.search(r'alice\s+updated\s+work_item PM-3\s+status: "backlog" -> "todo"', lines[1])
    assert (await cli("activity", "PM-3", "-p", "PM")).code == 2


# -- llm_context and the pack ------------------------------------------------------------


async def test_context_add_list_show_update_delete(cli: InThreadCli):
    ok(await cli("project", "create", "PM", "Board"))
    row = await js(
        cli, "context", "add", "Reviews first.", "-t", "business_rule", "--title", "Reviews",
        "-p", "PM", "--category", "process",
    )  # fmt: skip
    assert (row["context_type"], row["priority"]) == ("business_rule", 50)

    project_rows = await js(cli, "context", "list", "-p", "PM", "--project-only")
    assert [r["title"] for r in project_rows["contexts"]] == ["Reviews"]
    shown = ok(await cli("context", "show", row["id"])).stdout
    assert "scope:    PM" in shown
    assert shown.rstrip().endswith("Reviews first.")

    updated = await js(cli, "context", "update", row["id"], "--content", "-", stdin="Reviewed.\n")
    assert updated["content"] == "Reviewed."
    ok(await cli("context", "delete", row["id"], "--version", "2"))
    assert (await cli("context", "show", row["id"])).code == 3


async def test_context_tenant_rows_need_a_tenant_admin(cli: InThreadCli):
    refused = await cli("context", "add", "x", "-t", "instruction", "--title", "T", "--tenant")
    assert refused.code == 9

    row = await js(
        cli, "context", "add", "Be brief.", "-t", "instruction", "--title", "Style", "--tenant",
        user="root",
    )  # fmt: skip
    assert row["project_id"] is None
    tenant_rows = await js(cli, "context", "list", "--tenant", "-t", "instruction")
    assert "Style" in [r["title"] for r in tenant_rows["contexts"]]
    assert (await cli("context", "add", "x", "-t", "example", "--title", "T")).code == 2


async def test_context_pack_gives_rules_open_items_active_sprint_and_blocked(cli: InThreadCli):
    await board(cli)
    ok(await cli("context", "add", "Small PRs.", "-t", "business_rule", "--title", "PR size",
                 "-p", "PM"))  # fmt: skip
    ok(await cli("sprint", "create", "Sprint 1", "-p", "PM", "--goal", "Ship it"))
    ok(await cli("sprint", "start", "Sprint 1", "-p", "PM"))
    ok(await cli("item", "move", "PM-3", "--sprint", "active", "--status", "in_progress"))
    ok(await cli("item", "create", "--parent", "PM-2", "Done task", "--status", "done"))  # PM-5
    ok(await cli("dep", "add", "PM-3", "PM-4"))  # live: PM-3 is not done
    ok(await cli("dep", "add", "PM-5", "PM-1"))  # done blocker: PM-1 is not blocked
    ok(await cli("dep", "add", "PM-2", "PM-1", "--type", "relates_to"))

    pack = await js(cli, "context", "pack", "-p", "PM")

    text = pack["text"]
    assert pack["tokens"] <= pack["budget_tokens"] == 8000
    assert pack["open_items"] == 4
    # The sprint's item first, then the blocked one, then by most recent change.
    assert pack["item_keys"][:2] == ["PM-3", "PM-4"]
    assert sorted(pack["item_keys"]) == ["PM-1", "PM-2", "PM-3", "PM-4"]
    assert "- PM-4 task backlog medium: Task B (blocked by PM-3; assigned to you;" in text
    assert "- PM-3 task in_progress medium: Task A (sprint;" in text
    assert "## Active sprint: Sprint 1" in text
    assert "Goal: Ship it" in text
    # The project's rows come first, then the tenant's rules in full; no SQL anywhere.
    assert text.index("### PR size") < text.index("### Sprint life cycle")
    assert "SELECT" not in text.upper().replace("SELECTED", "")
    assert any("schema docs and query patterns" in line for line in pack["left_out"])
    assert "Sprint life cycle" in text  # a tenant-wide rule, in full


async def test_context_pack_markdown_reads_as_a_briefing(cli: InThreadCli):
    await board(cli)
    ok(await cli("dep", "add", "PM-3", "PM-4"))
    ok(await cli("item", "update", "PM-4", "--title", "Pipes | in titles"))

    text = ok(await cli("context", "pack", "-p", "PM")).stdout

    assert text.startswith("# Context pack: PM (Board)\n\nThe board\n")
    for heading in ("## How to work on this board", "## Rules and docs (llm_context)",
                    "## Active sprint", "## Open items, most relevant first (4 open)",
                    "## Left out"):  # fmt: skip
        assert f"\n{heading}\n" in text
    assert "- PM-4 task backlog medium: Pipes | in titles (blocked by PM-3;" in text
    seq = re.search(r"--since (\d+)`", text)
    assert seq is not None
    as_json = ok(await cli("context", "pack", "-p", "PM", "--format", "json")).json()
    assert as_json["seq"] == int(seq.group(1))
    small = await js(cli, "context", "pack", "-p", "PM", "--budget", "1000")
    assert small["tokens"] <= 1000
    assert (await cli("context", "pack", "-p", "PM", "--budget", "10")).code == 2


async def test_inbox_lists_marks_read_and_watches(cli: InThreadCli):
    await board(cli)
    ok(await cli("member", "add", "bob", "--role", "editor", "-p", "PM"))
    ok(await cli("item", "update", "PM-3", "--assignee", "bob"))
    listed = await js(cli, "inbox", "list", user="bob")
    assert [(n["reason"], n["actor_id"]) for n in listed["notifications"]] == [
        ("assigned", "alice")
    ]
    assert listed["unread_count"] == 1
    text = ok(await cli("inbox", "list", user="bob")).stdout
    assert "PM-3" in text
    assert "1 unread" in text
    marked = await js(cli, "inbox", "read", user="bob")
    assert marked["unread_count"] == 0
    assert (await js(cli, "inbox", "list", "--unread", user="bob"))["notifications"] == []
    watch = await js(cli, "inbox", "watch", "PM-4", user="bob")
    assert watch["watching"] is True
    assert (await js(cli, "inbox", "unwatch", "PM-4", user="bob"))["watching"] is False
    assert (await cli("inbox", "unwatch", "PM-4", user="bob")).code != 0
