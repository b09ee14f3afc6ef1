"""The server's log as an operator reads it: JSON lines parsed one by one, the ids bound to
each, the close code the server really sent, refusals with their reason."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_server import logs
from tests.pm_server.wsclient import WsClient
from tests.serve_process import ServerProcess


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line, or the test fails here
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    return records


async def test_json_log_has_one_object_per_line_with_the_connection_ids_and_close_codes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = load_or_create_signing_key(data_dir)
    server = ServerProcess(data_dir, tmp_path / "server.log", {"PM_LOG_FORMAT": "json"})
    await server.start()
    try:
        token = mint_token(key, tenant_id="acme", user_id="alice")
        big = await WsClient.connect(server.ws_url, token)
        await big.send_raw(b"\x00" * 70_000)  # above the 64 KiB frame limit
        assert big._reader is not None
        await asyncio.wait_for(big._reader, timeout=10)
        await big.close()
        async with aiohttp.ClientSession() as session:
            expired = mint_token(key, tenant_id="acme", user_id="bob", lifetime=-timedelta(hours=1))
            async with session.get(
                server.ws_url, headers={"Authorization": f"Bearer {expired}"}
            ) as response:
                assert response.status == 401
        staying = await WsClient.connect(
            server.ws_url, mint_token(key, tenant_id="acme", user_id="carol")
        )
        welcome = staying.welcome
    finally:
        assert await server.stop() == 0
    await staying.close()
    assert staying.close_code == 1001

    records = json_lines(server.log_path)
    by_conn = [r for r in records if r.get("conn") == welcome.connection_id]
    assert [r["message"].split()[3] for r in by_conn] == ["connected", "disconnected"]
    assert all((r["tenant"], r["user"]) == ("acme", "carol") for r in by_conn)
    closed = by_conn[-1]["message"]
    assert "code=1001 by=server reason='server shutting down'" in closed

    alice = [r for r in records if r.get("user") == "alice" and r.get("conn")]
    assert any("frame above 65536 bytes: closing with 1009" in r["message"] for r in alice)
    assert any("disconnected code=1009 by=server" in r["message"] for r in alice)

    refusals = [r for r in records if "refused upgrade" in r["message"]]
    assert len(refusals) == 1
    assert refusals[0]["level"] == "INFO"
    assert "401 UNAUTHENTICATED token expired" in refusals[0]["message"]


def test_bound_ids_reach_json_lines_and_an_explicit_id_wins() -> None:
    out = io.StringIO()
    logger = logging.getLogger("tests.logs.bound")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(logs.handler("json", out))
    try:
        with logs.bound(tenant="acme", user="alice", conn="c-1", request_id="r-9"):
            logger.info("inside")
            logger.info("about another", extra={"conn": "c-2"})
        logger.info("outside")
    finally:
        logger.handlers.clear()
    inside, other, outside = (json.loads(line) for line in out.getvalue().splitlines())
    assert (inside["tenant"], inside["user"], inside["conn"], inside["request_id"]) == (
        "acme",
        "alice",
        "c-1",
        "r-9",
    )
    assert other["conn"] == "c-2"
    assert not {"tenant", "user", "conn", "request_id"} & outside.keys()


def test_credentials_are_scrubbed_from_messages_and_tracebacks() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
    opaque = "pmk.acme.0190abcd.c2VjcmV0LXNlY3JldC1zZWNyZXQ"
    out = io.StringIO()
    logger = logging.getLogger("tests.logs.scrub")
    logger.propagate = False
    logger.addHandler(logs.handler("text", out))
    try:
        logger.warning("protocols %r", ["pm.v1", f"bearer.{jwt}"])
        logger.warning("header %s", f"BEARER {opaque}")
        try:
            raise ValueError(f"Got b'Bearer {jwt}' and ?access_token={jwt}")
        except ValueError:
            logger.exception("failed")
        logger.warning("missing bearer token")  # words about tokens stay readable
    finally:
        logger.handlers.clear()
    text = out.getvalue()
    assert jwt[:20] not in text
    assert "c2VjcmV0" not in text
    assert "protocols ['pm.v1', '[redacted]']" in text
    assert "header [redacted]" in text
    assert "Got b'[redacted]' and ?[redacted]" in text
    assert "missing bearer token" in text
