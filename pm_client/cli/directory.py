"""``pm user ...`` and ``pm apikey ...``: the tenant's users, invitations and API keys.

``pm user invite`` and ``pm apikey create`` print a secret (the invitation link, the key)
that the server shows once and never again: store it where it goes right away.
"""

from __future__ import annotations

import argparse

from pm_client.cli.options import Subcommands, add_quiet, group
from pm_client.cli.output import Output, enum_name, table, to_json
from pm_client.cli.session import Session
from pm_proto.v1 import entities_pb2

KIND = entities_pb2.UserKind.DESCRIPTOR


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(commands, common, "user", "the tenant's users: invite, list")
    p = add("invite", invite, "invite an email (tenant admins); prints a one-time link")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--name", help="display name (default: the email's local part)")
    p.add_argument("--admin", action="store_true", help="make the user a tenant admin")
    add_quiet(p, "invitation link")

    p = add("list", list_users, "users with name, kind and whether active (emails where shared)")
    p.add_argument("query", nargs="?", default="", metavar="TEXT", help="filter by name or email")
    p.add_argument("--limit", type=int, default=0, help="at most this many (default 100)")

    add = group(commands, common, "apikey", "API keys for agents and bots: create, list, revoke")
    p = add("create", create_key, "create a key acting as a new agent user (tenant admins)")
    p.add_argument("name", metavar="NAME", help="unique among live keys")
    p.add_argument("--display-name", help="the agent user's name (default: NAME)")
    p.add_argument("--admin", action="store_true", help="make the agent a tenant admin")
    add_quiet(p, "key")

    p = add("list", list_keys, "the tenant's keys (never their secrets)")
    p.add_argument("--all", action="store_true", help="include revoked keys")

    p = add("revoke", revoke_key, "revoke a key now: its connections are closed")
    p.add_argument("key", metavar="KEY_ID")


async def invite(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.invite_user(
        email=args.email, display_name=args.name, tenant_admin=args.admin
    )
    text = (
        reply.link
        if args.quiet
        else f"invited {reply.user.display_name} <{args.email}> (user {reply.user.id}); "
        f"send them this link, shown once:\n{reply.link}"
    )
    return Output(to_json(reply), text)


async def list_users(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.list_users(query=args.query, limit=args.limit)
    rows = [
        (
            entry.user.display_name,
            entry.user.email if entry.user.HasField("email") else "",
            enum_name(KIND, entry.user.kind),
            "yes"
            if entry.active
            else ("invited" if entry.user.kind == entities_pb2.USER_KIND_HUMAN else "no"),
            entry.user.id,
        )
        for entry in reply.users
    ]
    text = table(("name", "email", "kind", "active", "id"), rows, empty="no users")
    return Output(to_json(reply), text)


def key_line(key: entities_pb2.ApiKey) -> str:
    return f"{key.name!r} {key.prefix} (user {key.user_id})"


async def create_key(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.create_api_key(
        name=args.name, display_name=args.display_name, tenant_admin=args.admin
    )
    text = (
        reply.secret
        if args.quiet
        else f"created API key {key_line(reply.api_key)}; the key, shown once:\n{reply.secret}"
    )
    return Output(to_json(reply), text)


async def list_keys(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.list_api_keys(include_revoked=args.all)
    rows = [
        (
            key.name,
            key.prefix,
            key.user_id,
            key.last_used_at.ToJsonString() if key.HasField("last_used_at") else "never",
            "revoked" if key.HasField("revoked_at") else "live",
        )
        for key in reply.api_keys
    ]
    text = table(("name", "prefix", "user", "last used", "state"), rows, empty="no API keys")
    return Output(to_json(reply), text)


async def revoke_key(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.revoke_api_key(api_key_id=args.key)
    return Output(to_json(reply), f"revoked API key {key_line(reply.api_key)}")
