"""API keys: create, list and revoke (tenant admins only).

A key acts as its own agent user (kind ``agent``), created with the key; its
project roles are given like anyone's (``add_member``), its tenant-admin flag at
creation. The secret is in ``create_api_key``'s reply only: it is not kept, so
these commands record no idempotency reply (a stored reply would hold it). A
retry of a create whose reply was lost gets CONFLICT (the name is taken by the
first key): revoke that key and create another. Revoking is immediate: new
connections with the key are refused and open ones closed with 4003.

The keys are tenant-wide, so their changes produce no project events.
"""

from __future__ import annotations

from pm_auth.secrets import SecretKind, new_secret
from pm_core.directory import ApiKey, key_name
from pm_core.enums import UserKind
from pm_core.models import User
from pm_db.codec import new_id
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server import access
from pm_server.api_keys import close_connections_of_key
from pm_server.context import Context


def api_key_to_pb(key: ApiKey) -> entities_pb2.ApiKey:
    return pb_entities.to_pb(key, entities_pb2.ApiKey)


def _reply(key: ApiKey, user: User | None, secret: str = "") -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        api_key=commands_pb2.ApiKeyReply(
            api_key=api_key_to_pb(key),
            user=pb_entities.user_to_pb(user) if user is not None else None,
            secret=secret,
        )
    )


async def create_api_key(ctx: Context, cmd: commands_pb2.CreateApiKey) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    tenant_id = ctx.tenant_id
    created_by = ctx.user_id

    name = key_name(cmd.name)

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        key_id = new_id()
        secret = new_secret(SecretKind.API_KEY, tenant_id, key_id)
        display_name = cmd.display_name if cmd.HasField("display_name") else name
        user = uow.users.upsert(
            user_id=new_id(),
            display_name=display_name or name,
            is_tenant_admin=cmd.tenant_admin,
            kind=UserKind.AGENT,
        )
        key = uow.api_keys.create(
            key_id=key_id,
            user_id=user.id,
            name=name,
            prefix=secret.loggable,
            secret_hash=secret.hash,
            created_by=created_by,
        )
        return _reply(key, user, secret.token)

    return await ctx.db.write(unit)


async def list_api_keys(ctx: Context, cmd: commands_pb2.ListApiKeys) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        keys = uow.api_keys.list(include_revoked=cmd.include_revoked)
        return envelope_pb2.Reply(
            api_keys=commands_pb2.ApiKeyList(api_keys=[api_key_to_pb(k) for k in keys])
        )

    return await ctx.db.read(read)


async def revoke_api_key(ctx: Context, cmd: commands_pb2.RevokeApiKey) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        key = uow.api_keys.revoke(cmd.api_key_id)
        return _reply(key, uow.users.find(key.user_id))

    def close(_: envelope_pb2.Reply) -> None:
        # Once the revocation is durable: from then on a new connection is refused too.
        close_connections_of_key(ctx.open_connections, ctx.tenant_id, cmd.api_key_id)

    return await ctx.db.write(unit, on_commit=close)
