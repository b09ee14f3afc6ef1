"""Every way a ``pm`` client command fails: one clear line on stderr, the documented exit code.

Each case runs ``python -m pm_server ...`` in a subprocess against a live server
(issue 5, acceptance 5). The exit codes are the ones README.md lists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_client.cli_support import cli_env, live_server, run_pm
from tests.pm_server.conftest import Server, create_project
from tests.serve_process import refusing_port


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with live_server(tmp_path) as srv:
        yield srv


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    #: Text the one stderr line must contain.
    says: str
    #: Which token: "alice" (admin of PM), "bob" (viewer of PM), "bad", "expired", "none".
    token: str = "alice"
    #: Point at a port where no server listens.
    server_down: bool = False


CASES = {
    "bad_token_is_unauthenticated": Case(
        ("project", "list"), 8, "401 UNAUTHENTICATED", token="bad"
    ),
    "expired_token_is_unauthenticated": Case(
        ("item", "show", "PM-1"), 8, "UNAUTHENTICATED", token="expired"
    ),
    "missing_token_is_unauthenticated": Case(
        ("project", "list"), 8, "no token: set PM_TOKEN", token="none"
    ),
    "unknown_item_key_is_not_found": Case(
        ("item", "show", "PM-99"), 3, "NOT_FOUND: work_item PM-99 not found"
    ),
    "unknown_project_key_is_not_found": Case(
        ("item", "list", "--project", "NOPE"), 3, "NOT_FOUND: project NOPE not found"
    ),
    "item_of_a_project_one_is_not_in_is_not_found": Case(
        ("item", "show", "PM-1"), 3, "NOT_FOUND", token="carol"
    ),
    "stale_version_is_a_conflict": Case(
        ("item", "update", "PM-1", "--title", "Renamed", "--version", "7"),
        4,
        "CONFLICT: work_item",
    ),
    "taken_project_key_is_a_conflict": Case(("project", "create", "PM", "Again"), 4, "CONFLICT"),
    "deleting_an_item_with_children_is_delete_blocked": Case(
        ("item", "delete", "PM-1"), 4, "DELETE_BLOCKED"
    ),
    "viewer_creating_an_item_is_forbidden": Case(
        ("item", "create", "--project", "PM", "Nope"), 9, "FORBIDDEN", token="bob"
    ),
    "story_under_a_story_is_a_validation_error": Case(
        ("item", "create", "--type", "story", "--parent", "PM-2", "Sub-story"),
        2,
        "VALIDATION_ERROR",
    ),
    "no_project_named_is_a_usage_error": Case(("item", "list"), 2, "name a project"),
    "server_down_is_unreachable": Case(
        ("project", "list"), 7, "is the server running?", server_down=True
    ),
}


@pytest.fixture
async def board(server: Server) -> Server:
    """Project PM (alice admin, bob viewer) with PM-1 (epic) > PM-2 (story); carol outside."""
    alice = await server.client(user="alice")
    for user in ("bob", "carol"):
        await server.client(user=user)  # users exist once they connected
    project = await create_project(alice, "PM")
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id="bob", role=entities_pb2.ROLE_VIEWER),
    )
    epic = await alice.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Epic"
        ),
    )
    await alice.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id,
            type=entities_pb2.WORK_ITEM_TYPE_STORY,
            title="Story",
            parent_id=epic.work_item.item.id,
        ),
    )
    return server


def _token(server: Server, who: str) -> str | None:
    if who == "none":
        return None
    if who == "bad":
        return "not-a-token"
    if who == "expired":
        key = load_or_create_signing_key(server.data_dir)
        issued = datetime.now(UTC) - timedelta(days=2)
        return mint_token(
            key, tenant_id="acme", user_id="alice", now=issued, lifetime=timedelta(hours=1)
        )
    return server.token(user=who)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_cli_error_prints_one_line_and_its_exit_code(board: Server, case: Case) -> None:
    with refusing_port() as port:
        url = f"ws://127.0.0.1:{port}/v1/ws" if case.server_down else board.ws_url
        result = await run_pm(*case.args, env=cli_env(url, _token(board, case.token)))

    assert result.code == case.code, result.stderr
    assert result.stdout == ""
    [line] = result.error_lines
    assert line.startswith("pm: ")
    assert case.says in line


async def test_cli_error_with_json_still_reports_on_stderr_only(board: Server) -> None:
    env = cli_env(board.ws_url, board.token(user="alice"))
    result = await run_pm("item", "show", "PM-42", "--json", env=env)

    assert (result.code, result.stdout) == (3, "")
    assert result.error_lines == ["pm: NOT_FOUND: work_item PM-42 not found"]


async def test_cli_bad_enum_value_is_a_usage_error_naming_the_choices(board: Server) -> None:
    env = cli_env(board.ws_url, board.token(user="alice"))
    result = await run_pm("item", "move", "PM-2", "--status", "finished", env=env)

    assert result.code == 2
    assert result.stdout == ""
    assert "backlog, todo, in_progress, in_review, done" in result.error_lines[-1]


async def test_cli_failed_mutation_changes_nothing(board: Server) -> None:
    env = cli_env(board.ws_url, board.token(user="alice"))
    refused = await run_pm("item", "update", "PM-1", "--title", "X", "--version", "9", env=env)
    shown = await run_pm("item", "show", "PM-1", "--json", env=env)

    assert refused.code == 4
    assert shown.json()["item"]["title"] == "Epic"
    assert shown.json()["item"]["version"] == 1
