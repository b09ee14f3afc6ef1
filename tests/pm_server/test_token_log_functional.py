"""No token in the log: a real ``pm serve`` is handed tokens every way a client can, and
its whole log (DEBUG, text and JSON) is searched for them afterwards."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import envelope_pb2
from tests.serve_process import ServerProcess


def slices(secret: str, width: int = 20) -> set[str]:
    return {secret[i : i + width] for i in range(len(secret) - width + 1)}


async def welcome_of(ws: aiohttp.ClientWebSocketResponse) -> envelope_pb2.Welcome:
    message = envelope_pb2.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
    assert message.WhichOneof("kind") == "welcome"
    return message.welcome


async def refused_status(session: aiohttp.ClientSession, url: str, **kwargs: object) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(url, **kwargs)  # type: ignore[call-overload]
    return info.value.status


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_way_of_passing_a_token_puts_it_in_the_log(
    tmp_path: Path, log_format: str
) -> None:
    data_dir = tmp_path / "data"
    key = load_or_create_signing_key(data_dir)
    tokens = [mint_token(key, tenant_id="acme", user_id=f"user{i}") for i in range(8)]
    forged = mint_token(b"k" * 32, tenant_id="acme", user_id="mallory")
    server = ServerProcess(
        data_dir,
        tmp_path / "server.log",
        {"PM_LOG_LEVEL": "DEBUG", "PM_LOG_FORMAT": log_format},
    )
    await server.start()
    url = server.ws_url
    try:
        async with aiohttp.ClientSession() as session:
            accepted = [
                # the header, and its scheme in lower case (RFC 7235: case-insensitive)
                {"headers": {"Authorization": f"Bearer {tokens[0]}"}},
                {"headers": {"Authorization": f"bearer {tokens[1]}"}},
                # a browser's subprotocols, with and without pm.v1
                {"protocols": ("pm.v1", f"bearer.{tokens[2]}")},
                {"protocols": (f"bearer.{tokens[3]}",)},
                # a header token while also offering the bearer subprotocol
                {
                    "headers": {"Authorization": f"Bearer {tokens[4]}"},
                    "protocols": ("pm.v1", f"bearer.{tokens[4]}"),
                },
                {
                    "headers": {"Authorization": f"Bearer {tokens[5]}"},
                    "protocols": (f"bearer.{tokens[5]}",),
                },
            ]
            for kwargs in accepted:
                ws = await session.ws_connect(url, **kwargs)  # type: ignore[arg-type]
                assert (await welcome_of(ws)).tenant_id == "acme"
                await ws.close()
            ws = await session.ws_connect(f"{url}?access_token={tokens[6]}")
            await welcome_of(ws)
            await ws.close()

            # An over-long header: a token followed by junk (401), and one past the head
            # limit (431); then a token signed with another key (401).
            padded = {"Authorization": f"Bearer {tokens[7]}{'x' * 9_000}"}
            assert await refused_status(session, url, headers=padded) == 401
            huge = {"Authorization": f"Bearer {tokens[7]}{'x' * 20_000}"}
            assert await refused_status(session, url, headers=huge) == 431
            forged_header = {"Authorization": f"Bearer {forged}"}
            assert await refused_status(session, url, headers=forged_header) == 401
            forged_protocol = {"protocols": ("pm.v1", f"bearer.{forged}")}
            assert await refused_status(session, url, **forged_protocol) == 401
    finally:
        assert await server.stop() == 0

    log = server.log_path.read_text()
    # The run did what it says: every connection is in the log, and every refusal.
    assert log.count(" connected from ") == 7
    assert log.count("refused upgrade") == 3
    assert "431" in log
    for secret in [*tokens, forged]:
        leaked = [part for part in slices(secret) if part in log]
        assert not leaked, f"a token's text is in the log: {leaked[:3]}"
