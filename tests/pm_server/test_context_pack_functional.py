"""``get_context_pack`` over a real socket: one command, within the budget, for members only.

The 10,000-item board is seeded straight into the tenant's database while the
server is stopped (bench/seed.py), with a chain of ``blocks`` dependencies,
then packed with the server's default limits at three budgets.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import uuid_utils

from bench.seed import seed_items, tenant_db
from pm_db.codec import db_time
from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import board, code, new_item, update
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.test_dependencies_functional import link

P = commands_pb2
TASK = entities_pb2.WORK_ITEM_TYPE_TASK


async def test_get_context_pack_briefs_a_member_within_the_budget(server: Server) -> None:
    b = await board(server)
    await b.alice.request(
        "create_llm_context",
        P.CreateLlmContext(
            project_id=b.project.id,
            context_type=entities_pb2.LLM_CONTEXT_TYPE_BUSINESS_RULE,
            title="Definition of done",
            content="Merged and reviewed.",
            example_sql="SELECT * FROM work_items",
        ),
    )
    api = await new_item(b.bob, b.project.id, "Card API", type=TASK, assignee_id="vic")
    form = await new_item(b.bob, b.project.id, "Card form", type=TASK)
    done = await new_item(b.bob, b.project.id, "Old task", type=TASK)
    await update(b.bob, done.id, status=entities_pb2.WORK_ITEM_STATUS_DONE)
    await link(b.bob, api.id, form.id)

    reply = await b.vic.request("get_context_pack", P.GetContextPack(project_id=b.project.id))
    pack = reply.context_pack

    assert (pack.budget_tokens, pack.open_items) == (8000, 2)
    assert pack.tokens == -(-len(pack.text) // 4) <= 8000
    # Blocked first; the done item is not an open one.
    assert list(pack.item_keys) == ["PM-2", "PM-1"]
    assert "- PM-2 task backlog medium: Card form (blocked by PM-1;" in pack.text
    assert "- PM-1 task backlog medium: Card API (assigned to you;" in pack.text
    assert "### Definition of done" in pack.text
    assert "SELECT *" not in pack.text
    last = await b.vic.request("list_work_items", P.ListWorkItems(project_id=b.project.id))
    assert pack.seq == last.work_items.seq


async def test_get_context_pack_refusals(server: Server) -> None:
    b = await board(server)
    for budget in (-1, 999, 200_001):
        error = await b.vic.error(
            "get_context_pack", P.GetContextPack(project_id=b.project.id, budget_tokens=budget)
        )
        assert (code(error), error.field) == ("VALIDATION_ERROR", "budget_tokens")
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error("get_context_pack", P.GetContextPack(project_id=b.project.id))
        assert (code(error), error.entity_id) == ("NOT_FOUND", b.project.id)
        assert "Board" not in error.message


INSERT_BLOCKS = """
INSERT INTO dependencies (id, project_id, from_item_id, to_item_id, type, created_by, version,
                          created_at, updated_at)
VALUES (?, ?, ?, ?, 'blocks', 'alice', 1, ?, ?)
"""


def seed_blocks(db: Path, project_id: str, pairs: int) -> None:
    """Item 2n+1 blocks item 2n+2 for the first ``pairs`` pairs."""
    stamp = db_time(datetime.now(UTC))
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        ids = dict(conn.execute("SELECT item_number, id FROM work_items WHERE project_id = ?",
                                (project_id,)).fetchall())  # fmt: skip
        rows = [
            (str(uuid_utils.uuid7()), project_id, ids[2 * n + 1], ids[2 * n + 2], stamp, stamp)
            for n in range(pairs)
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_BLOCKS, rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def test_context_pack_of_a_10000_item_project_completes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, runner = await start_server(data_dir)
    try:
        alice = await server.client(user="alice")
        project = await create_project(alice, "BIG", "Big board")
        await alice.close()
    finally:
        await runner.cleanup()
    db = tenant_db(data_dir, "acme")
    seed_items(db, project.id, "alice", 10_000)
    seed_blocks(db, project.id, 1_000)

    server, runner = await start_server(data_dir)
    try:
        alice = await server.client(user="alice")
        sizes = []
        for budget in (1_000, 8_000, 200_000):
            started = time.perf_counter()
            reply = await alice.request(
                "get_context_pack",
                P.GetContextPack(project_id=project.id, budget_tokens=budget),
                timeout=60,
            )
            elapsed = time.perf_counter() - started
            pack = reply.context_pack
            assert pack.tokens <= budget
            assert pack.open_items == 8_000  # a fifth of the seeded items are done
            missing = pack.open_items - len(pack.item_keys)
            if missing:
                assert f"{missing} of 8000 open items" in pack.text
            else:
                assert "\n- BIG-10000 task " in pack.text
            # The blocked items outrank the rest (no sprint is active, nothing is recent).
            assert pack.item_keys[0] == "BIG-2"
            sizes.append(len(pack.item_keys))
            print(f"pack of 10,000 items at {budget} tokens: {elapsed:.3f} s, {pack.tokens} tokens")
        assert 0 < sizes[0] < sizes[1] < sizes[2] == 8_000
        await alice.close()
    finally:
        await runner.cleanup()
