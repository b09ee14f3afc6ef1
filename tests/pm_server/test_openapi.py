"""The OpenAPI document: built from the descriptors, served as committed, every command in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from pm_proto.v1 import envelope_pb2
from pm_server import openapi
from pm_server.rpc import COMMANDS, HTTP_STATUS, WEBSOCKET_ONLY, message_of
from tests.pm_server.conftest import Server

ROOT = Path(__file__).resolve().parents[2]
COMMAND_FIELDS = envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_committed_copy_is_what_the_server_builds() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_bytes()
    assert committed == openapi.document_bytes(), (
        "docs/openapi.json is stale: run make proto (or make docs)"
    )


def test_every_command_is_an_operation_or_websocket_only() -> None:
    paths = openapi.build()["paths"]
    for field in COMMAND_FIELDS:
        operation = f"/v1/rpc/{field.name}"
        assert (operation in paths) != (field.name in WEBSOCKET_ONLY), field.name
    assert len(paths) == len(COMMANDS)


def test_each_operation_answers_the_reply_its_command_is_answered_by() -> None:
    document = openapi.build()
    for field in COMMAND_FIELDS:
        if field.name in WEBSOCKET_ONLY:
            continue
        operation = document["paths"][f"/v1/rpc/{field.name}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert resolve(document, body["$ref"])["title"] == message_of(field).name
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        result = field.GetOptions().Extensions[envelope_pb2.answered_by]
        reply = resolve(document, ok["$ref"])
        json_name = envelope_pb2.Reply.DESCRIPTOR.fields_by_name[result].json_name
        assert set(reply["properties"]) == {"requestId", json_name}, field.name
        for status in {*HTTP_STATUS.values(), 413, 415}:
            assert str(status) in operation["responses"], (field.name, status)


def test_every_schema_reference_resolves() -> None:
    document = openapi.build()
    refs = set(_refs(document))
    for ref in refs:
        resolve(document, ref)  # raises KeyError on a dangling reference
    assert "#/components/schemas/pm.v1.Error" in refs


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_json_mapping_types() -> None:
    schemas = openapi.build()["components"]["schemas"]
    item = schemas["pm.v1.WorkItem"]["properties"]
    assert item["version"]["type"] == ["integer", "string"]  # int64: a string, or a number
    assert item["createdAt"] == {"type": "string", "format": "date-time"}
    assert item["status"] == {"$ref": "#/components/schemas/pm.v1.WorkItemStatus"}
    assert "WORK_ITEM_STATUS_DONE" in schemas["pm.v1.WorkItemStatus"]["enum"]
    assert "displayKey" in item  # lowerCamelCase, as the mapping writes it


async def test_the_server_serves_the_document_without_a_token(server: Server) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.base_url}/v1/openapi.json") as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.read()
    assert body == openapi.document_bytes()
    assert json.loads(body)["openapi"] == "3.1.0"
