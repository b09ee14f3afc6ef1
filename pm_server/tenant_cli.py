"""``pm tenant ...``: administration of tenant databases in the data dir.

``list``, ``backup``, ``restore``, ``export``, ``import``, ``delete`` and ``check`` work
on the files under ``<data_dir>/tenants`` (``PM_DATA_DIR`` or ``--data-dir``),
so they run next to a live server, in another process. The rules they follow
while a server runs are :mod:`pm_db.admin`'s: backup and export are online;
restore and delete first ask running servers to let go of the tenant
(:mod:`pm_db.maintenance`), and are refused if one still holds it open.

Output is a table or one summary line for people, JSON with ``--json``;
errors are one line on stderr with the exit code of their class (see
``EXIT_CODES`` and docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from pm_core.errors import (
    ConflictError,
    InvalidFileError,
    InvalidTenantIdError,
    NoSuchFileError,
    NotFoundError,
    PmError,
    SchemaTooNewError,
    TenantBusyError,
    TenantNotFoundError,
    UnavailableError,
    ValidationError,
    nearest,
)
from pm_db import admin, export, integrity, maintenance
from pm_db.paths import TenantPaths
from pm_server.invitations import provision_tenant
from pm_server.settings import Settings
from pm_server.tenant_args import (
    EXIT_BUSY,
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_INVALID_FILE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)

#: Read along the error's MRO: its nearest class here gives the exit code (else EXIT_FAILED).
EXIT_CODES: Final[Mapping[type[PmError], int]] = {
    ValidationError: EXIT_USAGE,
    InvalidTenantIdError: EXIT_USAGE,
    InvalidFileError: EXIT_INVALID_FILE,
    NotFoundError: EXIT_NOT_FOUND,
    ConflictError: EXIT_CONFLICT,
    UnavailableError: EXIT_BUSY,
    SchemaTooNewError: EXIT_INVALID_FILE,
}

STDIO: Final = "-"


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``pm tenant`` command; returns the process exit code."""
    name = args.tenant_command
    paths = TenantPaths(args.data_dir or settings.data_dir)
    try:
        result = _COMMANDS[name](args, paths, settings)
    except PmError as exc:
        return _fail(name, exc.message, exit_code(exc))
    except OSError as exc:
        return _fail(name, _os_message(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(name, "interrupted", 130)
    if result is None:  # the command wrote its own output
        return EXIT_OK
    payload, text, *code = result
    if args.json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(text)
    return code[0] if code else EXIT_OK


def exit_code(exc: PmError) -> int:
    code = nearest(EXIT_CODES, exc)
    return EXIT_FAILED if code is None else code


def _fail(command: str, message: str, code: int) -> int:
    print(f"pm tenant {command}: {' '.join(message.split())}", file=sys.stderr)
    return code


def _os_message(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc.__class__.__name__}{where}"


#: What a command prints (the JSON payload, the text) and, if not 0, its exit code.
Result = tuple[Any, str] | tuple[Any, str, int]
Command = Callable[[argparse.Namespace, TenantPaths, Settings], Result | None]


# -- the commands --------------------------------------------------------------


def _list(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    tenants = admin.list_tenants(paths, busy_timeout_ms=settings.db_busy_timeout_ms)
    payload = [
        {
            "tenant": info.tenant_id,
            "size_bytes": info.size_bytes,
            "schema_version": info.facts.schema_version if info.facts else None,
            "epoch": info.facts.epoch if info.facts else None,
            "seq": info.facts.seq if info.facts else None,
            "open": info.in_use,
            "error": info.error,
        }
        for info in tenants
    ]
    rows: list[tuple[str, ...]] = [("TENANT", "SIZE", "SCHEMA", "SEQ", "OPEN")]
    rows.extend(
        (
            info.tenant_id,
            _size(info.size_bytes),
            str(info.facts.schema_version) if info.facts else "?",
            str(info.facts.seq) if info.facts else "?",
            "yes" if info.in_use else ("error" if info.error else "no"),
        )
        for info in tenants
    )
    return payload, _table(rows) if tenants else f"no tenants in {paths.data_dir}"


def _create(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    if settings.public_url is None and settings.port == 0:
        # No server is asked: the port a server will pick is not known, and a link to port
        # 0 leads nowhere. Refused before anything is created.
        raise ValidationError(
            "PM_PUBLIC_URL",
            "PM_PORT is 0 (a port picked at start): set PM_PUBLIC_URL to the address users "
            "reach the server at, for the invitation link",
        )
    invited = provision_tenant(
        paths,
        args.tenant,
        admin_email=args.admin_email,
        admin_name=args.admin_name,
        lifetime=timedelta(hours=settings.invitation_hours),
        base_url=settings.base_url,
    )
    payload = {
        "tenant": args.tenant,
        "admin_user_id": invited.user_id,
        "invitation_id": invited.invitation_id,
        "link": invited.link,
        "expires_at": invited.expires_at.isoformat(),
    }
    text = (
        f"created tenant {args.tenant}; its admin {args.admin_email} signs up with this link "
        f"(shown once, valid until {invited.expires_at:%Y-%m-%d %H:%M} UTC):\n{invited.link}"
    )
    return payload, text


def _backup(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    info = admin.backup_tenant(
        paths,
        args.tenant,
        args.file,
        overwrite=args.force,
        busy_timeout_ms=settings.db_busy_timeout_ms,
    )
    payload = {
        "tenant": info.tenant_id,
        "file": str(info.path),
        "size_bytes": info.size_bytes,
        "schema_version": info.facts.schema_version,
        "epoch": info.facts.epoch,
        "seq": info.facts.seq,
    }
    text = (
        f"backed up tenant {info.tenant_id} to {info.path} "
        f"({_size(info.size_bytes)}, schema {info.facts.schema_version}, seq {info.facts.seq})"
    )
    return payload, text


def _restore(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    if args.yes and paths.has_database(args.tenant):
        with maintenance.released(paths, args.tenant, args.wait):
            info = admin.restore_tenant(paths, args.tenant, args.file, replace=True)
    else:
        info = admin.restore_tenant(paths, args.tenant, args.file, replace=args.yes)
    payload = {
        "tenant": info.tenant_id,
        "file": str(info.source),
        "schema_version": info.facts.schema_version,
        "epoch": info.facts.epoch,
        "backup_epoch": info.backup_epoch,
        "seq": info.facts.seq,
    }
    text = (
        f"restored tenant {info.tenant_id} from {info.source} "
        f"(schema {info.facts.schema_version}, seq {info.facts.seq}, "
        f"new epoch {info.facts.epoch}); "
        "clients resuming from before the restore will refetch"
    )
    return payload, text


def _export(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result | None:
    document = export.export_tenant(paths, args.tenant, busy_timeout_ms=settings.db_busy_timeout_ms)
    counts = {name: len(rows) for name, rows in document["tables"].items()}
    if args.file == STDIO:
        sys.stdout.write(export.dumps(document))
        sys.stdout.flush()
        return None
    size = export.write_export(document, Path(args.file), overwrite=args.force)
    payload = {"tenant": args.tenant, "file": str(Path(args.file).absolute()), "rows": counts}
    text = (
        f"exported tenant {args.tenant} to {args.file} ({sum(counts.values())} rows, {_size(size)})"
    )
    return payload, text


def _import(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    if args.file == STDIO:
        data = sys.stdin.buffer.read()
    else:
        path = Path(args.file)
        if not path.is_file():
            raise NoSuchFileError(path.absolute())
        data = path.read_bytes()
    validated = export.import_tenant(paths, args.tenant, data)
    counts = validated.counts
    payload = {"tenant": args.tenant, "rows": counts}
    text = f"imported tenant {args.tenant} ({sum(counts.values())} rows)"
    return payload, text


def _delete(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    if not args.yes:
        # Check the id and the tenant first, so the message names the real problem.
        if not paths.tenant_dir(args.tenant).is_dir():
            raise TenantNotFoundError(args.tenant)
        raise ValidationError("arguments", f"refusing to delete tenant {args.tenant} without --yes")
    with maintenance.released(paths, args.tenant, args.wait):
        admin.delete_tenant(paths, args.tenant)
    return {"tenant": args.tenant, "deleted": True}, f"deleted tenant {args.tenant}"


def _migrate(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    tenants = paths.tenant_ids() if args.all else [args.tenant]
    rows: list[dict[str, Any]] = []
    for n, tenant_id in enumerate(tenants, start=1):
        try:
            done = admin.migrate_tenant(paths, tenant_id)
        except TenantBusyError:
            row: dict[str, Any] = {"tenant": tenant_id, "status": "skipped", "why": "open"}
        except PmError as exc:
            if not args.all:
                raise
            row = {"tenant": tenant_id, "status": "failed", "why": exc.message}
        else:
            row = {
                "tenant": tenant_id,
                "status": "migrated" if done.after != done.before else "current",
                "from": done.before,
                "to": done.after,
            }
        rows.append(row)
        if not args.json:  # progress, one line a tenant, as it goes
            print(f"[{n}/{len(tenants)}] {_migrated_line(row)}", flush=True)
    failed = sum(row["status"] == "failed" for row in rows)
    skipped = sum(row["status"] == "skipped" for row in rows)
    text = (
        f"{len(rows)} tenants: {len(rows) - failed - skipped} current, {skipped} skipped, "
        f"{failed} failed"
    )
    code = EXIT_FAILED if failed else (EXIT_BUSY if skipped else EXIT_OK)
    return rows, text, code


def _migrated_line(row: dict[str, Any]) -> str:
    tenant, status = row["tenant"], row["status"]
    if status == "migrated":
        return f"{tenant}: schema {row['from']} -> {row['to']}"
    if status == "current":
        return f"{tenant}: schema {row['to']}, nothing to do"
    if status == "skipped":
        return f"{tenant}: skipped, open in a running server (which migrated it when it opened it)"
    return f"{tenant}: failed: {row['why']}"


def _check(args: argparse.Namespace, paths: TenantPaths, settings: Settings) -> Result:
    path = paths.db_path(args.tenant)
    if not path.is_file():
        raise TenantNotFoundError(args.tenant)
    problems = integrity.check(path)
    payload = {"tenant": args.tenant, "ok": not problems, "problems": problems}
    if not problems:
        return payload, f"tenant {args.tenant}: ok"
    text = "\n".join(
        [
            f"tenant {args.tenant}: damaged ({len(problems)} problem(s) found by SQLite):",
            *(f"  {problem}" for problem in problems[:20]),
            f"restore it from a backup: pm tenant restore {args.tenant} FILE "
            f"(or export what still reads: pm tenant export {args.tenant} FILE)",
        ]
    )
    return payload, text, EXIT_FAILED


_COMMANDS: Final[
    dict[str, Callable[[argparse.Namespace, TenantPaths, Settings], Result | None]]
] = {
    "list": _list,
    "create": _create,
    "backup": _backup,
    "restore": _restore,
    "export": _export,
    "import": _import,
    "delete": _delete,
    "check": _check,
    "migrate": _migrate,
}


# -- formatting ----------------------------------------------------------------


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
