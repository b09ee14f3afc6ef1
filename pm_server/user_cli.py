"""``pm user set-password``: an operator sets or resets a sign-in password on the data dir.

It works on the tenant's database file directly (``PM_DATA_DIR`` or
``--data-dir``), next to a running server or without one: one write
transaction that stores the new argon2id hash and revokes every refresh-token
family of the user, so every session of theirs ends (open WebSocket
connections live until their access token expires, minutes). With
``--create`` it also creates the user and the account when the email has none
(the first account of a tenant, before invitations).

The password is never taken from the command line (it would show in the
process list and the shell history): it is asked twice on a terminal, or read
as the first line of standard input (``printf '%s\\n' "$PW" | pm user
set-password acme alice@example.com``).

``pm user`` is shared with the client commands (``pm user invite``, ``list``);
its operator command joins that group in :mod:`pm_server.user_args`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sqlite3
import sys
from dataclasses import dataclass
from typing import TextIO

from pm_auth.passwords import check_new_password
from pm_core.errors import NotFoundError, PmError, TenantNotFoundError, ValidationError
from pm_core.text import email_key
from pm_db.codec import new_id, utc_now
from pm_db.paths import TenantPaths, connect
from pm_db.unit_of_work import UnitOfWork
from pm_server.settings import Settings
from pm_server.tenant_args import EXIT_OK
from pm_server.tenant_cli import exit_code
from pm_server.user_args import COMMAND


@dataclass(frozen=True, slots=True)
class PasswordSet:
    user_id: str
    created: bool
    revoked: int


def run(args: argparse.Namespace, settings: Settings, stdin: TextIO = sys.stdin) -> int:
    """Run ``pm user set-password``; returns the process exit code."""
    from pm_auth.passwords import Passwords  # noqa: PLC0415 - argon2 only when it runs

    try:
        password = _read_password(stdin)
        check_new_password(password)
        paths = TenantPaths(args.data_dir or settings.data_dir)
        result = set_password(
            paths,
            args.tenant,
            args.email,
            Passwords().hash(password),
            create=args.create,
            name=args.name,
            admin=args.admin,
            busy_timeout_ms=settings.db_busy_timeout_ms,
        )
    except PmError as exc:
        print(f"pm user {COMMAND}: {' '.join(exc.message.split())}", file=sys.stderr)
        return exit_code(exc)
    except (EOFError, KeyboardInterrupt):
        print(f"pm user {COMMAND}: no password given", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": args.tenant,
                    "user_id": result.user_id,
                    "created": result.created,
                    "revoked_refresh_tokens": result.revoked,
                }
            )
        )
    else:
        what = "created with the password" if result.created else "password set"
        print(
            f"{email_key(args.email)} (user {result.user_id}) in tenant {args.tenant}: {what}; "
            f"{result.revoked} refresh tokens revoked"
        )
    return EXIT_OK


def _read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != first:
            raise ValidationError("password", "the two passwords differ")
        return first
    line = stdin.readline()
    if not line:
        raise ValidationError("password", "no password on standard input")
    return line.rstrip("\r\n")


def set_password(
    paths: TenantPaths,
    tenant_id: str,
    email: str,
    password_hash: str,
    *,
    create: bool = False,
    name: str | None = None,
    admin: bool = False,
    busy_timeout_ms: int = 5_000,
) -> PasswordSet:
    """Store ``password_hash`` for the account of ``email``; revoke the user's sessions."""
    path = paths.db_path(tenant_id)  # checks the tenant id first
    if not path.is_file():
        raise TenantNotFoundError(tenant_id)
    conn = connect(path, busy_timeout_ms=busy_timeout_ms)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = _write(UnitOfWork(conn, utc_now()), email, password_hash, create, name, admin)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()
    return result


def _write(
    uow: UnitOfWork,
    email: str,
    password_hash: str,
    create: bool,
    name: str | None,
    admin: bool,
) -> PasswordSet:
    account = uow.accounts.find_by_email(email)
    if account is not None:
        uow.accounts.set_password(account, password_hash)
        return PasswordSet(account.user_id, False, uow.refresh_tokens.revoke_user(account.user_id))
    if not create:
        raise NotFoundError(
            "account",
            email,
            "no account with this email in the tenant (invite the user, or pass --create)",
        )
    user = uow.users.upsert(
        user_id=new_id(),
        display_name=name or email_key(email),
        email=email_key(email),
        is_tenant_admin=admin,
    )
    uow.accounts.create(user_id=user.id, email=email, password_hash=password_hash)
    return PasswordSet(user.id, True, 0)
