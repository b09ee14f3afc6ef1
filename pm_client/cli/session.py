"""One client command's connection, and the names people use for things.

Connection settings come from ``--url`` / ``--token`` or the ``PM_URL`` /
``PM_TOKEN`` environment variables, and ``--project`` defaults to
``PM_PROJECT``. This module is the only place in pm_client that reads the
environment: these are the settings of the client process that runs the
command (like ``git`` reading ``GIT_DIR``), not the server's settings, which
stay with ``pm_server.settings``.

:class:`Session` turns what a person types into what the protocol takes: a
project key (``PM``) or id, an item's display key (``PM-12``) or id, a sprint
name, id or ``active``, ``me`` for the caller. It remembers what it looked up,
so a command that names the same item twice asks the server once.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Final

from pm_client.cli.exits import NotFound, NoToken, UsageError
from pm_client.client import PmClient
from pm_client.errors import ServerError
from pm_core.errors import ValidationError
from pm_core.keys import is_project_key, parse_display_key
from pm_proto.v1 import entities_pb2

DEFAULT_URL: Final = "ws://127.0.0.1:8700/v1/ws"
#: Words that mean "nobody" / "none" where a user, parent or sprint may be cleared.
NONE_WORDS: Final = frozenset({"none", "-", ""})
ACTIVE_STATUSES: Final = frozenset(
    {entities_pb2.SPRINT_STATUS_PLANNED, entities_pb2.SPRINT_STATUS_ACTIVE}
)


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    token: str
    timeout: float


def connection_settings(args: argparse.Namespace) -> Connection:
    """Where to connect and with which token: flags first, then the environment."""
    url = args.url or os.environ.get("PM_URL") or DEFAULT_URL
    token = args.token or os.environ.get("PM_TOKEN", "")
    if not token.strip():
        raise NoToken("no token: set PM_TOKEN or pass --token (e.g. from `pm token`)")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    return Connection(url=url, token=token.strip(), timeout=args.timeout)


def default_project() -> str | None:
    """``PM_PROJECT``: the project commands use when ``--project`` is not given."""
    return os.environ.get("PM_PROJECT") or None


class Session:
    """A connected client plus lookups of what the command line names."""

    def __init__(self, pm: PmClient, connection: Connection, *, json: bool) -> None:
        self.pm = pm
        self.connection = connection
        self.json = json
        self._projects: dict[str, entities_pb2.Project] = {}
        self._items: dict[str, entities_pb2.WorkItem] = {}
        self._sprints: dict[str, list[entities_pb2.Sprint]] = {}

    @property
    def me(self) -> str:
        """The caller's user id (the token's subject)."""
        return self.pm.welcome.user.id

    # -- users -------------------------------------------------------------------

    def user(self, ref: str) -> str:
        """A user id; ``me`` is the caller, ``none`` is "" (nobody)."""
        if ref.strip().lower() in NONE_WORDS:
            return ""
        return self.me if ref == "me" else ref

    # -- projects ----------------------------------------------------------------

    async def project(self, ref: str | None) -> entities_pb2.Project:
        """A project by key (``PM``, any case) or id; ``None``: ``PM_PROJECT``."""
        ref = ref or default_project()
        if not ref:
            raise UsageError("name a project: --project KEY (or set PM_PROJECT)")
        cached = self._projects.get(ref) or self._projects.get(ref.upper())
        if cached is not None:
            return cached
        try:
            if is_project_key(ref.upper()):
                project = (await self.pm.get_project(key=ref.upper())).project
            else:
                project = (await self.pm.get_project(project_id=ref)).project
        except ServerError as exc:
            if exc.code == "NOT_FOUND":
                raise NotFound(f"project {ref} not found") from None
            raise
        self.remember_project(project)
        return project

    def remember_project(self, project: entities_pb2.Project) -> None:
        self._projects[project.id] = project
        self._projects[project.key] = project

    async def project_key(self, project_id: str) -> str:
        return (await self.project(project_id)).key

    # -- work items --------------------------------------------------------------

    async def item(self, ref: str) -> entities_pb2.WorkItem:
        """A work item by display key (``PM-12``, any case) or id."""
        ref = ref.strip()
        if not ref:
            raise UsageError("name a work item: a key like PM-12, or its id")
        cached = self._items.get(ref) or self._items.get(ref.upper())
        if cached is not None:
            return cached
        try:
            if _is_display_key(ref):
                item = (await self.pm.get_work_item(display_key=ref.upper())).item
            else:
                item = (await self.pm.get_work_item(item_id=ref)).item
        except ServerError as exc:
            if exc.code == "NOT_FOUND":
                raise NotFound(f"work_item {ref} not found") from None
            raise
        self.remember_item(item)
        return item

    def remember_item(self, item: entities_pb2.WorkItem) -> None:
        self._items[item.id] = item
        self._items[item.display_key] = item

    async def item_id(self, ref: str) -> str:
        return (await self.item(ref)).id

    async def item_key(self, item_id: str) -> str:
        """The display key of an item id ("" for ""; the id itself if it is gone)."""
        if not item_id:
            return ""
        try:
            return (await self.item(item_id)).display_key
        except NotFound:
            return item_id

    async def optional_item_id(self, ref: str) -> str:
        """An item id, or "" for ``none`` (no parent)."""
        if ref.strip().lower() in NONE_WORDS:
            return ""
        return await self.item_id(ref)

    # -- sprints -----------------------------------------------------------------

    async def sprints(self, project_id: str) -> list[entities_pb2.Sprint]:
        if project_id not in self._sprints:
            reply = await self.pm.list_sprints(project_id=project_id)
            self._sprints[project_id] = list(reply.sprints)
        return self._sprints[project_id]

    async def sprint(self, ref: str, project_id: str) -> entities_pb2.Sprint:
        """A sprint of the project by id, name (any case) or ``active``."""
        wanted = ref.strip()
        sprints = await self.sprints(project_id)
        if wanted.lower() == "active":
            found = [s for s in sprints if s.status == entities_pb2.SPRINT_STATUS_ACTIVE]
            if not found:
                raise NotFound("sprint active not found: the project has no active sprint")
            return found[0]
        by_id = [s for s in sprints if s.id == wanted]
        if by_id:
            return by_id[0]
        by_name = [s for s in sprints if s.name.casefold() == wanted.casefold()]
        live = [s for s in by_name if s.status in ACTIVE_STATUSES] or by_name
        if not live:
            raise NotFound(f"sprint {ref} not found")
        if len(live) > 1:
            raise UsageError(f"several sprints are named {ref!r}: give the sprint's id")
        return live[0]

    async def sprint_id(self, ref: str, project_id: str) -> str:
        """A sprint id, or "" for ``none``/``backlog`` (no sprint)."""
        if ref.strip().lower() in NONE_WORDS | {"backlog"}:
            return ""
        return (await self.sprint(ref, project_id)).id

    async def sprint_names(self, project_id: str) -> dict[str, str]:
        return {s.id: s.name for s in await self.sprints(project_id)}


def _is_display_key(ref: str) -> bool:
    try:
        parse_display_key(ref)
    except ValidationError:
        return False
    return True
