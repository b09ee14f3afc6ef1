"""``POST /v1/rpc/<command>`` over a real socket: the same answers as the WebSocket, writes
that reach subscribers, idempotent retries, both encodings, and every error status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf import json_format

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server.rpc import COMMANDS, WEBSOCKET_ONLY, http_status
from tests.pm_server.conftest import Server, create_project, start_server, subscribe

JSON = "application/json"
PROTOBUF = "application/x-protobuf"


async def post(
    server: Server,
    command: str,
    body: dict[str, Any] | bytes | str | None = None,
    *,
    user: str = "alice",
    admin: bool = False,
    token: str | None = None,
    content_type: str = JSON,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    """One request; the JSON answer parsed (bytes for protobuf)."""
    if isinstance(body, dict):
        data: bytes | str = json.dumps(body)
    else:
        data = body if body is not None else b""
    sent = {
        "Content-Type": content_type,
        "Authorization": f"Bearer {token or server.token('acme', user, admin=admin)}",
        **(headers or {}),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/v1/rpc/{command}", data=data, headers=sent) as response,
    ):
        raw = await response.read()
        if response.content_type == JSON:
            return response.status, json.loads(raw), response.headers
        return response.status, raw, response.headers


def as_json(reply: envelope_pb2.Reply) -> dict[str, Any]:
    """A WebSocket reply in the JSON mapping, without its request id (each door picks one)."""
    out = json_format.MessageToDict(reply)
    out.pop("requestId", None)
    return out


def without_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "requestId"}


async def test_http_and_websocket_answer_the_same_reads(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM", "Board")
    await alice.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Epic"
        ),
    )
    reads = {
        "get_project": commands_pb2.GetProject(project_id=project.id),
        "list_projects": commands_pb2.ListProjects(),
        "list_members": commands_pb2.ListMembers(project_id=project.id),
        "list_work_items": commands_pb2.ListWorkItems(project_id=project.id),
        "list_swim_lanes": commands_pb2.ListSwimLanes(project_id=project.id),
        "list_activity": commands_pb2.ListActivity(project_id=project.id),
    }
    for name, command in reads.items():
        over_ws = as_json(await alice.request(name, command))
        status, over_http, _ = await post(server, name, json_format.MessageToDict(command))
        assert status == 200, (name, over_http)
        assert without_id(over_http) == over_ws, name
        # The binary encoding answers the same Reply.
        status, raw, headers = await post(
            server, name, command.SerializeToString(), content_type=PROTOBUF
        )
        assert (status, headers["Content-Type"]) == (200, PROTOBUF)
        assert as_json(envelope_pb2.Reply.FromString(raw)) == over_ws, name


async def test_a_write_over_http_reaches_websocket_subscribers(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    await subscribe(alice, project.id)
    status, answer, _ = await post(
        server,
        "create_work_item",
        {"projectId": project.id, "type": "WORK_ITEM_TYPE_EPIC", "title": "From a script"},
    )
    assert status == 200, answer
    item = answer["workItem"]["item"]
    assert (item["title"], item["displayKey"]) == ("From a script", "PM-1")
    event = await alice.next_event()
    assert event.work_item.id == item["id"]
    assert event.work_item.title == "From a script"
    assert event.actor_id == "alice"


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_reply(
    server: Server,
) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice)
    body = {"projectId": project.id, "type": "WORK_ITEM_TYPE_EPIC", "title": "Once"}
    key = {"Idempotency-Key": "ci-job-1234"}
    first = await post(server, "create_work_item", body, headers=key)
    again = await post(server, "create_work_item", body, headers=key)
    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert first[1]["requestId"] == "ci-job-1234"
    # Without a key, each request is a new one.
    other = await post(server, "create_work_item", body)
    assert other[1]["workItem"]["item"]["id"] != first[1]["workItem"]["item"]["id"]
    items = await alice.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project.id)
    )
    assert sorted(i.title for i in items.work_items.items) == ["Once", "Once"]
    # The key is the request id whatever the door: a WebSocket retry gets the stored reply.
    ws_retry = await alice.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Once"
        ),
        request_id="ci-job-1234",
    )
    assert as_json(ws_retry) == without_id(first[1])


async def test_an_api_key_is_accepted_as_a_bearer(server: Server) -> None:
    status, answer, _ = await post(
        server, "create_api_key", {"name": "ci"}, user="root", admin=True
    )
    assert status == 200, answer
    key, agent = answer["apiKey"]["secret"], answer["apiKey"]["user"]["id"]
    status, answer, _ = await post(server, "create_project", {"key": "CI", "name": "CI"}, token=key)
    assert status == 200, answer
    assert answer["project"]["project"]["createdBy"] == agent


async def test_websocket_only_commands_are_refused_with_404(server: Server) -> None:
    assert set(WEBSOCKET_ONLY).isdisjoint(COMMANDS)
    for name in WEBSOCKET_ONLY:
        status, answer, _ = await post(server, name, {})
        assert status == 404, name
        assert answer["code"] == "NOT_FOUND"
        assert "WebSocket only" in answer["message"]


# -- each error status ------------------------------------------------------------


async def test_error_statuses_carry_the_protocol_error(server: Server) -> None:
    alice = await server.client("acme", "alice")
    project = await create_project(alice, "PM")
    bob = await server.client("acme", "bob")
    await alice.request(
        "add_member",
        commands_pb2.AddMember(project_id=project.id, user_id="bob", role=entities_pb2.ROLE_VIEWER),
    )
    await bob.close()
    cases: list[tuple[int, str, dict[str, Any], str, dict[str, Any]]] = [
        # status, command, body, code, fields expected in the error
        (400, "get_project", {"nope": 1}, "INVALID_MESSAGE", {}),
        (404, "get_project", {"projectId": "missing"}, "NOT_FOUND", {"entity": "project"}),
        (404, "no_such_command", {}, "NOT_FOUND", {"entity": "command"}),
        (
            409,
            "update_project",
            {"projectId": project.id, "expectedVersion": "7", "name": "x"},
            "CONFLICT",
            {"entity": "project", "currentVersion": "1"},
        ),
        (422, "create_project", {"key": "x", "name": "n"}, "VALIDATION_ERROR", {"field": "key"}),
    ]
    for status, name, body, code, fields in cases:
        got, answer, _ = await post(server, name, body, headers={"Idempotency-Key": f"e-{name}"})
        assert (got, answer["code"]) == (status, code), (name, answer)
        assert answer["message"]
        assert answer["requestId"] == f"e-{name}"
        assert {k: answer.get(k) for k in fields} == fields
    # The conflict carries the row as it is now.
    _, answer, _ = await post(
        server, "update_project", {"projectId": project.id, "expectedVersion": 7, "name": "x"}
    )
    assert answer["project"]["name"] == "Project"
    # 403: a viewer's write, and a browser from another origin.
    status, answer, _ = await post(
        server, "update_project", {"projectId": project.id, "name": "x"}, user="bob"
    )
    assert (status, answer["code"], answer["rule"]) == (403, "FORBIDDEN", "role.admin")
    status, answer, _ = await post(
        server, "list_projects", {}, headers={"Origin": "https://evil.example"}
    )
    assert (status, answer["code"]) == (403, "FORBIDDEN")
    # 401: no token, a bad token, a bad API key.
    for token in ("", "not-a-token", "pmk.acme.0000.secret"):
        status, answer, headers = await post(
            server, "list_projects", {}, headers={"Authorization": f"Bearer {token}"}
        )
        assert (status, answer["code"]) == (401, "UNAUTHENTICATED"), token
        assert headers["WWW-Authenticate"].startswith("Bearer")
    # 415: not JSON nor protobuf; 413: a body above the frame limit.
    status, answer, _ = await post(server, "list_projects", "x=1", content_type="text/plain")
    assert (status, answer["code"]) == (415, "INVALID_MESSAGE")
    big = {"key": "BIG", "name": "n", "description": "d" * 70_000}
    status, answer, _ = await post(server, "create_project", big)
    assert (status, answer["code"]) == (413, "INVALID_MESSAGE")
    # A bad Idempotency-Key, malformed bodies of both encodings.
    status, answer, _ = await post(
        server, "list_projects", {}, headers={"Idempotency-Key": "x" * 129}
    )
    assert (status, answer["code"]) == (400, "INVALID_MESSAGE")
    for text in ("{", "[1]", '{"key": "\\ud800"}', "[" * 10_000 + "]" * 10_000):
        status, answer, _ = await post(server, "create_project", text)
        assert (status, answer["code"]) == (400, "INVALID_MESSAGE"), text[:20]
    status, raw, headers = await post(
        server, "create_project", b"\xff\xff\xff", content_type=PROTOBUF
    )
    assert (status, headers["Content-Type"]) == (400, PROTOBUF)
    assert envelope_pb2.Error.FromString(raw).code == envelope_pb2.INVALID_MESSAGE
    # Nothing was created by any of them.
    projects = await alice.request("list_projects", commands_pb2.ListProjects())
    assert [p.key for p in projects.projects.projects] == ["PM"]


async def test_rate_limited_requests_get_429_with_retry_after_from_the_tenants_bucket(
    tmp_path: Path,
) -> None:
    server, runner = await start_server(
        tmp_path / "data",
        rate_limit_tenant_per_second=0.01,
        rate_limit_tenant_burst=3,
    )
    try:
        alice = await server.client("acme", "alice")  # its frames share the tenant's bucket
        await alice.request("list_projects", commands_pb2.ListProjects())
        statuses = []
        for _ in range(3):
            status, answer, headers = await post(server, "list_projects", {})
            statuses.append(status)
        assert statuses == [200, 200, 429]
        assert answer["code"] == "RATE_LIMITED"
        assert int(answer["retryAfterMs"]) > 0
        assert int(headers["Retry-After"]) >= 1
        error = await alice.error("list_projects", commands_pb2.ListProjects())
        assert error.code == envelope_pb2.RATE_LIMITED
        await alice.close()
    finally:
        await runner.cleanup()


async def test_each_caller_has_a_rate_bucket_of_its_own_kept_between_requests(
    tmp_path: Path,
) -> None:
    server, runner = await start_server(
        tmp_path / "data",
        rate_limit_connection_per_second=0.01,
        rate_limit_connection_burst=2,
    )
    try:
        alice = [await post(server, "list_projects", {}) for _ in range(3)]
        assert [status for status, _, _ in alice] == [200, 200, 429]
        _, answer, headers = alice[-1]
        assert answer["code"] == "RATE_LIMITED"
        assert int(headers["Retry-After"]) >= 1
        # Another caller of the same tenant is not held back by alice's requests.
        status, answer, _ = await post(server, "list_projects", {}, user="bob")
        assert status == 200, answer
        # Nor is a WebSocket connection of alice's: it has a bucket of its own.
        ws = await server.client("acme", "alice")
        await ws.request("list_projects", commands_pb2.ListProjects())
        await ws.close()
    finally:
        await runner.cleanup()


async def test_a_draining_server_answers_503(server: Server) -> None:
    status, _, _ = await post(server, "list_projects", {})
    assert status == 200
    server.state.draining = True
    status, answer, _ = await post(server, "list_projects", {})
    assert (status, answer["code"], answer["retryable"]) == (503, "UNAVAILABLE", True)
    server.state.draining = False


async def test_the_user_row_follows_the_tokens_claims(server: Server) -> None:
    def token(name: str) -> str:
        return mint_token(
            load_or_create_signing_key(server.data_dir),
            tenant_id="acme",
            user_id="carol",
            name=name,
        )

    for name in ("Carol", "Carol", "Carol Smith"):
        status, _, _ = await post(server, "list_projects", {}, token=token(name))
        assert status == 200
        status, answer, _ = await post(server, "list_users", {}, token=token(name))
        (carol,) = [u["user"] for u in answer["users"]["users"] if u["user"]["id"] == "carol"]
        assert carol["displayName"] == name


def test_a_code_without_a_status_of_its_own_is_a_client_or_a_retryable_error() -> None:
    assert http_status("CONFLICT", retryable=False) == 409
    assert http_status("SOME_NEW_CODE", retryable=False) == 400
    assert http_status("SOME_NEW_CODE", retryable=True) == 503
