"""The unit of work: one transaction's connection, its clock, and the repositories.

A function handed to ``TenantDatabase.write`` or ``.read`` receives a
``UnitOfWork``; it reaches every repository through it, so every statement of
the function runs on the same connection and inside the same transaction.
Repositories never begin, commit or roll back.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import cached_property

from pm_db.cascades import Cascades
from pm_db.repositories.accounts import AccountRepository
from pm_db.repositories.activity import ActivityLogRepository
from pm_db.repositories.api_keys import ApiKeyRepository
from pm_db.repositories.comments import CommentRepository
from pm_db.repositories.dependencies import DependencyRepository
from pm_db.repositories.directory import DirectoryRepository
from pm_db.repositories.events import EventLogRepository, EventSeq
from pm_db.repositories.idempotency import IdempotencyRepository
from pm_db.repositories.invitations import InvitationRepository
from pm_db.repositories.item_labels import ItemLabelRepository
from pm_db.repositories.labels import LabelRepository
from pm_db.repositories.live_rows import LiveRowRepository
from pm_db.repositories.llm_context import LlmContextRepository
from pm_db.repositories.members import MemberRepository
from pm_db.repositories.meta import TenantMetaRepository
from pm_db.repositories.notifications import NotificationRepository
from pm_db.repositories.projects import ProjectRepository
from pm_db.repositories.refresh_tokens import RefreshTokenRepository
from pm_db.repositories.search import SearchRepository
from pm_db.repositories.sprints import SprintRepository
from pm_db.repositories.swim_lanes import SwimLaneRepository
from pm_db.repositories.time_entries import TimeEntryRepository
from pm_db.repositories.users import UserRepository
from pm_db.repositories.watches import WatchRepository
from pm_db.repositories.webhook_deliveries import WebhookDeliveryRepository
from pm_db.repositories.webhooks import WebhookRepository
from pm_db.repositories.work_items import WorkItemRepository


class UnitOfWork:
    """``now`` is fixed for the whole unit, so every row it writes agrees on the time."""

    def __init__(
        self, conn: sqlite3.Connection, now: datetime, seq: EventSeq | None = None
    ) -> None:
        self.conn = conn
        self.now = now
        #: The writer's event seq (None on a read, or outside the writer: read from the log).
        self.seq = seq

    @cached_property
    def meta(self) -> TenantMetaRepository:
        return TenantMetaRepository(self.conn)

    @cached_property
    def live_rows(self) -> LiveRowRepository:
        """Any entity's live row by type and id (the registry's tables)."""
        return LiveRowRepository(self.conn)

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self.conn, self.now)

    @cached_property
    def projects(self) -> ProjectRepository:
        return ProjectRepository(self.conn, self.now)

    @cached_property
    def members(self) -> MemberRepository:
        return MemberRepository(self.conn, self.now)

    @cached_property
    def work_items(self) -> WorkItemRepository:
        return WorkItemRepository(self.conn, self.now)

    @cached_property
    def sprints(self) -> SprintRepository:
        return SprintRepository(self.conn, self.now)

    @cached_property
    def comments(self) -> CommentRepository:
        return CommentRepository(self.conn, self.now)

    @cached_property
    def time_entries(self) -> TimeEntryRepository:
        return TimeEntryRepository(self.conn, self.now)

    @cached_property
    def dependencies(self) -> DependencyRepository:
        return DependencyRepository(self.conn, self.now)

    @cached_property
    def swim_lanes(self) -> SwimLaneRepository:
        return SwimLaneRepository(self.conn, self.now)

    @cached_property
    def llm_context(self) -> LlmContextRepository:
        return LlmContextRepository(self.conn, self.now)

    @cached_property
    def labels(self) -> LabelRepository:
        return LabelRepository(self.conn, self.now)

    @cached_property
    def item_labels(self) -> ItemLabelRepository:
        """Which labels which items carry."""
        return ItemLabelRepository(self.conn, self.now)

    @cached_property
    def watches(self) -> WatchRepository:
        """Who watches which item."""
        return WatchRepository(self.conn, self.now)

    @cached_property
    def notifications(self) -> NotificationRepository:
        """Each user's inbox."""
        return NotificationRepository(self.conn, self.now)

    @cached_property
    def search(self) -> SearchRepository:
        """Full-text search over work items (reads only: triggers keep the index)."""
        return SearchRepository(self.conn)

    @cached_property
    def activity(self) -> ActivityLogRepository:
        return ActivityLogRepository(self.conn, self.now)

    @cached_property
    def events(self) -> EventLogRepository:
        return EventLogRepository(self.conn, self.now, self.seq)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.conn, self.now)

    @cached_property
    def accounts(self) -> AccountRepository:
        return AccountRepository(self.conn, self.now)

    @cached_property
    def refresh_tokens(self) -> RefreshTokenRepository:
        return RefreshTokenRepository(self.conn, self.now)

    @cached_property
    def cascades(self) -> Cascades:
        return Cascades(self.conn, self.now)

    @cached_property
    def invitations(self) -> InvitationRepository:
        return InvitationRepository(self.conn, self.now)

    @cached_property
    def api_keys(self) -> ApiKeyRepository:
        return ApiKeyRepository(self.conn, self.now)

    @cached_property
    def directory(self) -> DirectoryRepository:
        return DirectoryRepository(self.conn, self.now)

    @cached_property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(self.conn, self.now)

    @cached_property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        return WebhookDeliveryRepository(self.conn, self.now)
