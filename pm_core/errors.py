"""The one error tree of pm.

Every failure the system reports is a :class:`PmError`. Each class carries the
protocol ``code`` it maps to and whether a retry of the same request can
succeed (``retryable``); details are structured attributes, never
preformatted strings, so the edge can render them however it needs to.

::

    PmError
    ├── InvalidMessageError            INVALID_MESSAGE
    ├── ValidationError                VALIDATION_ERROR (+ field)
    │   ├── InvalidTenantIdError
    │   ├── InvalidFileError           a backup or export pm cannot use
    │   └── RuleViolationError         (+ rule)
    │       ├── HierarchyError
    │       ├── DependencyCycleError   (+ path)
    │       └── InvalidTransitionError (+ current, target)
    ├── UnauthenticatedError           UNAUTHENTICATED
    ├── ForbiddenError                 FORBIDDEN
    ├── RateLimitedError               RATE_LIMITED (+ retry_after), retryable
    ├── NotFoundError                  NOT_FOUND (+ entity, entity_id)
    │   ├── TenantGoneError
    │   ├── TenantNotFoundError        (+ tenant_id)
    │   └── NoSuchFileError            (+ path)
    ├── ConflictError                  CONFLICT (+ current version / entity)
    │   ├── DuplicateError             (+ unique key)
    │   ├── TenantExistsError          (+ tenant_id, hint)
    │   └── FileAlreadyExistsError     (+ path)
    ├── DeleteBlockedError             DELETE_BLOCKED (+ blockers)
    ├── UnavailableError               UNAVAILABLE, retryable
    │   ├── StorageClosedError
    │   ├── TenantBusyError            (+ tenant_id)
    │   ├── TooManyConnectionsError    (+ scope, limit)
    │   ├── SchemaTooNewError          not retryable
    │   ├── TenantDamagedError         (+ tenant_id), not retryable
    │   ├── TenantMaintenanceError     (+ tenant_id)
    │   ├── TenantLostError            (+ tenant_id), not retryable
    │   ├── TenantFencedError          (+ tenant_id): another process owns it now
    │   └── TenantElsewhereError       (+ tenant_id, owner): not this process's tenant
    ├── FaultError                     INTERNAL to the client; details for the log only
    │   └── MigrationError             (+ version, name, reason)
    └── InternalError                  INTERNAL (+ error_id)

The tenant-file classes (InvalidFileError, TenantNotFoundError, NoSuchFileError,
TenantExistsError, FileAlreadyExistsError, TenantBusyError) are raised by
tenant administration (``pm tenant``), whose messages name the tenant or file.

Foreign exceptions (sqlite3, jwt, protobuf) are translated into this tree
where they enter pm code. Configuration found unusable at start-up
(``Settings``, ``AuthConfig``, ``pm_auth.keys.KeyFileError``) raises
ValueError instead: ``pm serve`` reports it before any client connects, so
it has no protocol code. Tables keyed by error class (the protocol details
in ``pm_server/errors.py``, the exit codes of ``pm tenant``) are read with
:func:`nearest`, along the class's MRO, so a class without an entry of its
own gets its nearest parent's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

T = TypeVar("T")


def nearest(table: Mapping[Any, T], error: BaseException) -> T | None:
    """The entry of ``error``'s most specific class in ``table`` (walking its MRO), or None."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None


class PmError(Exception):
    """Base of every error pm reports."""

    code: ClassVar[str] = "INTERNAL"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMessageError(PmError):
    """A frame that cannot be decoded or names no known command."""

    code = "INVALID_MESSAGE"


class ValidationError(PmError):
    """A well-formed request whose content breaks a rule; ``field`` names it."""

    code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidTenantIdError(ValidationError):
    """A tenant id that does not match the tenant-id rule."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__("tenant_id", "tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$")
        # Kept for the caller's logs; never echoed back verbatim by the edge.
        self.tenant_id = tenant_id


class InvalidFileError(ValidationError):
    """A backup or export file that cannot be used; nothing was written."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(field, message)


class RuleViolationError(ValidationError):
    """A domain rule refused the change; ``rule`` is a stable dotted name."""

    def __init__(self, rule: str, field: str, message: str) -> None:
        super().__init__(field, message)
        self.rule = rule


class HierarchyError(RuleViolationError):
    """An epic/story/task parent link that the hierarchy does not allow."""

    def __init__(self, rule: str, message: str, field: str = "parent_id") -> None:
        super().__init__(rule, field, message)


class DependencyCycleError(RuleViolationError):
    """A ``blocks`` dependency that would close a cycle; ``path`` is the cycle (item ids).

    ``keys``, when known, are the same items' display keys (``SHOP-3``): the message,
    which people read, names the items by them; ``path`` keeps the ids for programs.
    """

    def __init__(self, path: Sequence[str], keys: Sequence[str] | None = None) -> None:
        self.path: tuple[str, ...] = tuple(path)
        self.keys: tuple[str, ...] | None = None if keys is None else tuple(keys)
        super().__init__(
            "dependency.cycle",
            "to_item_id",
            "dependency would create a cycle: " + " -> ".join(self.keys or self.path),
        )


class InvalidTransitionError(RuleViolationError):
    """A status change the state machine does not allow."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity}.transition", "status", f"{entity} cannot go from {current} to {target}"
        )
        self.current = current
        self.target = target


class UnauthenticatedError(PmError):
    code = "UNAUTHENTICATED"


class ForbiddenError(PmError):
    code = "FORBIDDEN"

    def __init__(self, message: str, required_role: str | None = None) -> None:
        super().__init__(message)
        self.required_role = required_role


class RateLimitedError(PmError):
    code = "RATE_LIMITED"
    retryable = True

    def __init__(self, retry_after: float, rate: float = 0.0) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f}s")
        self.retry_after = retry_after
        #: The sustained rate (per second) of the limit that refused (0: not told).
        self.rate = rate


class NotFoundError(PmError):
    """No such row; the message leaves the id out (a client knows what it asked for)."""

    code = "NOT_FOUND"

    def __init__(self, entity: str, entity_id: str, message: str | None = None) -> None:
        super().__init__(message or f"{entity} not found")
        self.entity = entity
        self.entity_id = entity_id


class TenantGoneError(NotFoundError):
    """The tenant's database was deleted (by an operator) while clients were connected."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__("tenant", tenant_id)


class TenantNotFoundError(NotFoundError):
    """No tenant of this id has a database in the data dir."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__("tenant", tenant_id, f"tenant {tenant_id} not found")
        self.tenant_id = tenant_id


class NoSuchFileError(NotFoundError):
    """A file (or folder) an administration command was given does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__("file", str(path), f"no such file: {path}")
        self.path = path


class ConflictError(PmError):
    """The row changed since the client read it (stale ``version``).

    ``current`` holds the row as it is now (a pm_core model) when it still
    exists, so the client can merge without another round trip.
    """

    code = "CONFLICT"

    def __init__(
        self,
        entity: str,
        entity_id: str,
        current_version: int | None,
        current: Any = None,
        message: str | None = None,
    ) -> None:
        super().__init__(message or f"{entity} was changed by someone else")
        self.entity = entity
        self.entity_id = entity_id
        self.current_version = current_version
        self.current = current
        #: For work items: the project key, so ``current`` can carry its display key.
        self.project_key = ""


class DuplicateError(ConflictError):
    """A live row with the same unique key already exists."""

    def __init__(self, entity: str, key: str, existing_id: str | None = None) -> None:
        super().__init__(
            entity, existing_id or "", None, None, f"{entity} with this {key} already exists"
        )
        self.key = key


class TenantExistsError(ConflictError):
    """The tenant id is taken; ``hint`` says what to do instead."""

    def __init__(self, tenant_id: str, hint: str) -> None:
        super().__init__(
            "tenant", tenant_id, None, None, f"tenant {tenant_id} already exists; {hint}"
        )
        self.tenant_id = tenant_id
        self.hint = hint


class FileAlreadyExistsError(ConflictError):
    """The destination file exists and overwriting it was not asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__("file", str(path), None, None, f"{path} exists; pass --force to overwrite")
        self.path = path


class DeleteBlockedError(PmError):
    code = "DELETE_BLOCKED"

    def __init__(
        self,
        entity: str,
        entity_id: str,
        reason: str,
        blockers: Sequence[str],
        *,
        label: str | None = None,
    ) -> None:
        # ``label``: how people know the row (a display key), else the entity's name.
        super().__init__(f"{label or entity} cannot be deleted: {reason}")
        self.entity = entity
        self.entity_id = entity_id
        self.reason = reason
        self.blockers: tuple[str, ...] = tuple(blockers)


class UnavailableError(PmError):
    """The service cannot take this request now; the same request may succeed later."""

    code = "UNAVAILABLE"
    retryable = True


class StorageClosedError(UnavailableError):
    """A database (or the set of them) was used after ``close()``."""


class TenantBusyError(UnavailableError):
    """The tenant's database is open elsewhere (a running server): it cannot be replaced now."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"tenant {tenant_id} is open in a running pm server (or another process); "
            "stop the server, or wait until it closes the tenant, then retry"
        )
        self.tenant_id = tenant_id


ConnectionScope = Literal["server", "tenant", "user"]


class TooManyConnectionsError(UnavailableError):
    """A connection cap is full: ``scope``'s connections have reached ``limit``."""

    def __init__(self, scope: ConnectionScope, limit: int) -> None:
        super().__init__(
            "the server has too many connections"
            if scope == "server"
            else f"this {scope} has {limit} connections open"
        )
        self.scope: ConnectionScope = scope
        self.limit = limit

    @property
    def reason(self) -> str:
        """The setting of the cap that is full (also a metric label): ``max_connections...``."""
        return "max_connections" if self.scope == "server" else f"max_connections_per_{self.scope}"


class SchemaTooNewError(UnavailableError):
    """The database was written by a newer pm; this code must not touch it."""

    retryable = False

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this server supports ({supported}); "
            "upgrade pm before opening it"
        )
        self.found = found
        self.supported = supported


class TenantDamagedError(UnavailableError):
    """The tenant's database file fails SQLite's checks (a damaged header or page): the
    tenant is out of service until an operator restores it."""

    retryable = False

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"the database of tenant {tenant_id} is damaged; an operator must run "
            f"`pm tenant check {tenant_id}` and restore it from a backup"
        )
        self.tenant_id = tenant_id


class TenantMaintenanceError(UnavailableError):
    """An operator is restoring or deleting the tenant (its maintenance marker exists)."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"tenant {tenant_id} is being restored or deleted by an operator; retry shortly"
        )
        self.tenant_id = tenant_id


class TenantLostError(UnavailableError):
    """The tenant's database file was removed or replaced under the running server: the
    server stopped writing to it (what it had is saved, see docs/operations.md)."""

    retryable = False

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"the database file of tenant {tenant_id} was removed or replaced while in use; "
            "this write was not committed; reconnect"
        )
        self.tenant_id = tenant_id


class TenantFencedError(UnavailableError):
    """Another pm process took the tenant over (its fencing token in the database is newer
    than this process's): this process must not commit for it again. Nothing of the write
    was committed; retried, it reaches the new owner."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"tenant {tenant_id} is now served by another pm process; this write was not "
            "committed; retry (reconnect)"
        )
        self.tenant_id = tenant_id


class TenantElsewhereError(UnavailableError):
    """The tenant is owned by another pm process (``owner``, its address, when known), or
    this one may not take it (it is draining): the request belongs there."""

    def __init__(self, tenant_id: str, owner: str | None = None) -> None:
        super().__init__(f"tenant {tenant_id} is served by another pm process; retry shortly")
        self.tenant_id = tenant_id
        self.owner = owner


class FaultError(PmError):
    """A failure of pm itself, not of the request; its details are for the operator.

    The protocol edge reports it like any unexpected exception: logged with an
    error id, ``INTERNAL`` with that id to the client, never its message.
    """

    code = "INTERNAL"


class MigrationError(FaultError):
    """A migration could not be applied; the database is left at the previous version."""

    def __init__(self, reason: str, version: int | None = None, name: str | None = None) -> None:
        which = "migration" + (f" {version}" if version is not None else "")
        which += f" ({name})" if name else ""
        super().__init__(f"{which} {reason}")
        self.reason = reason
        self.version = version
        self.name = name


class InternalError(PmError):
    """An unexpected failure; ``error_id`` ties the reply to the server log."""

    code = "INTERNAL"

    def __init__(self, error_id: str) -> None:
        super().__init__(f"internal error (id {error_id})")
        self.error_id = error_id
