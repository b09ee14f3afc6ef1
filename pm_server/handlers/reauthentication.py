"""``reauthenticate``: a fresh access token on an open connection (see pm_server.expiry)."""

from __future__ import annotations

from pm_core.errors import UnavailableError, ValidationError
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server.context import Context


async def reauthenticate(ctx: Context, cmd: commands_pb2.Reauthenticate) -> envelope_pb2.Reply:
    """Replace the connection's principal by the token's (same tenant and user only)."""
    if not cmd.access_token:
        raise ValidationError("access_token", "access_token is required")
    expiry = ctx.connection.expiry
    if expiry is None:  # the welcome is sent after the deadline is set: never seen by clients
        raise UnavailableError("the connection is not ready")
    principal = await expiry.renew(cmd.access_token)
    reply = commands_pb2.Reauthenticated(expires_at=to_timestamp(principal.expires_at))
    return envelope_pb2.Reply(reauthenticated=reply)
