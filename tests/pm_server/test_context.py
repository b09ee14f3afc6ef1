"""A handler's context: a command that came over HTTP has no connection to hand out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pm_auth.tokens import Principal
from pm_core.errors import InvalidMessageError
from pm_server.context import Context
from pm_server.settings import Settings


def test_a_command_without_a_socket_is_refused_where_a_handler_needs_one(tmp_path: Path) -> None:
    principal = Principal(
        tenant_id="acme",
        user_id="alice",
        display_name="Alice",
        email=None,
        is_tenant_admin=False,
        expires_at=datetime(2100, 1, 1, tzinfo=UTC),
    )
    unused: Any = None  # the database and the hub are not reached
    ctx = Context(principal, unused, unused, None, "r1", settings=Settings(data_dir=tmp_path))
    with pytest.raises(InvalidMessageError, match="WebSocket only"):
        _ = ctx.connection
    assert (ctx.user_id, ctx.tenant_id) == ("alice", "acme")
