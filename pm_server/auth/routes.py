"""``/v1/auth/*``: built-in sign-in over HTTP (on when ``PM_SIGNIN`` is true).

=========================  ==========================================================
``POST /v1/auth/login``    ``{"tenant", "email", "password"}`` -> a session
``POST /v1/auth/refresh``  the refresh token (body or cookie) -> the next session
``POST /v1/auth/logout``   the refresh token (body or cookie) -> 204, session ended
``GET /v1/auth/me``        ``Authorization: Bearer <access token>`` -> the user
``POST /v1/auth/password`` Bearer + ``{"current_password", "new_password"}`` -> a session
``POST /v1/auth/accept``   ``{"token", "password"}`` (an invitation) -> a session
=========================  ==========================================================

A session answer is ``{"access_token", "token_type": "Bearer", "expires_in",
"expires_at", "tenant", "user"}``. Who gets the refresh token how:

- a **browser** (the request carries ``Origin``, which browsers send on every
  POST) gets it only as the cookie :data:`COOKIE` (``HttpOnly; Secure;
  SameSite=Strict; Path=/v1/auth``), never in the body, so page scripts cannot
  read it; ``Secure`` is left out only for plain HTTP to a loopback host (a
  developer's ``http://localhost:8700``). The Origin must pass the same
  allowlist as the WebSocket (``PM_ALLOWED_ORIGINS``), else 403;
- any other client gets ``refresh_token`` and ``refresh_expires_in`` in the body.

Errors are ``{"error": {"code", "message", "retry_after_ms"?}}`` with the
protocol's codes (one mapping, :func:`pm_server.errors.error_message`) and a
fitting status; RATE_LIMITED also sets ``Retry-After``. Bad JSON or fields are
400, never 500. Responses carry ``Cache-Control: no-store``. Nothing here logs a
request body, a password or a token.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from pm_auth.passwords import MAX_PASSWORD_LENGTH
from pm_auth.tokens import Principal
from pm_core.errors import (
    ForbiddenError,
    InvalidMessageError,
    PmError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
)
from pm_core.models import User
from pm_core.text import EMAIL_MAX
from pm_proto.v1 import envelope_pb2
from pm_server.auth.sessions import IssuedSession
from pm_server.auth.signin import SignIn
from pm_server.errors import error_message
from pm_server.limits import origin_allowed
from pm_server.state import STATE

log = logging.getLogger(__name__)

PREFIX: Final = "/v1/auth"
COOKIE: Final = "pm_refresh"
SIGN_IN = web.AppKey("sign_in", SignIn)

_STATUS: Final = {
    "INVALID_MESSAGE": 400,
    "VALIDATION_ERROR": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "UNAVAILABLE": 503,
}
_MAX_TENANT: Final = 63
#: Longer than any token, so that a token of the wrong length is refused like any other
#: wrong token (401), not as a field too long (400) that would say something of its shape.
_MAX_TOKEN: Final = 1_000
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/login", _endpoint(login))
    app.router.add_post(f"{PREFIX}/refresh", _endpoint(refresh))
    app.router.add_post(f"{PREFIX}/logout", _endpoint(logout))
    app.router.add_get(f"{PREFIX}/me", _endpoint(me))
    app.router.add_post(f"{PREFIX}/password", _endpoint(password))
    app.router.add_post(f"{PREFIX}/accept", _endpoint(accept))


Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _endpoint(handler: Endpoint) -> Endpoint:
    """The handler with the origin check and the one error mapping around it."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            _check_origin(request)
            response = await handler(request)
        except Exception as exc:
            response = _error(exc, request)
        response.headers["Cache-Control"] = "no-store"
        return response

    return run


# -- the endpoints ------------------------------------------------------------------


async def login(request: web.Request) -> web.StreamResponse:
    body = await _json(request)
    tenant = _text(body, "tenant", _MAX_TENANT)
    email = _text(body, "email", EMAIL_MAX)
    secret = _text(body, "password", MAX_PASSWORD_LENGTH, strip=False)
    session = await request.app[SIGN_IN].login(tenant, email, secret, _address(request))
    return _session_response(request, session)


async def refresh(request: web.Request) -> web.StreamResponse:
    token = await _refresh_token(request)
    if token is None:
        raise UnauthenticatedError("missing refresh token")
    session = await request.app[SIGN_IN].refresh(token)
    return _session_response(request, session)


async def logout(request: web.Request) -> web.StreamResponse:
    token = await _refresh_token(request)
    if token is not None:
        await request.app[SIGN_IN].logout(token)
    response = web.Response(status=204)
    if _is_browser(request):
        _clear_cookie(request, response)
    return response


async def me(request: web.Request) -> web.StreamResponse:
    principal = await _bearer(request)
    user = await request.app[SIGN_IN].me(principal)
    return web.json_response(
        {
            "tenant": principal.tenant_id,
            "user": _user(user),
            "expires_at": _time(principal.expires_at),
        }
    )


async def password(request: web.Request) -> web.StreamResponse:
    principal = await _bearer(request)
    body = await _json(request)
    current = _text(body, "current_password", MAX_PASSWORD_LENGTH, strip=False)
    new = _text(body, "new_password", MAX_PASSWORD_LENGTH, strip=False, allow_empty=True)
    session = await request.app[SIGN_IN].change_password(principal, current, new, _address(request))
    return _session_response(request, session)


async def accept(request: web.Request) -> web.StreamResponse:
    body = await _json(request)
    token = _text(body, "token", _MAX_TOKEN)
    new = _text(body, "password", MAX_PASSWORD_LENGTH, strip=False, allow_empty=True)
    session = await request.app[SIGN_IN].accept(token, new, _address(request))
    return _session_response(request, session)


# -- requests -----------------------------------------------------------------------


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=_loads)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting past the parser
        raise InvalidMessageError("the body must be a JSON object") from exc
    except web.HTTPRequestEntityTooLarge:
        raise InvalidMessageError(
            f"the body is larger than {request.client_max_size} bytes"
        ) from None
    if not isinstance(body, dict):
        raise InvalidMessageError("the body must be a JSON object")
    return body


def _loads(text: str) -> Any:
    return json.loads(text)


def _text(
    body: dict[str, Any],
    name: str,
    max_length: int,
    *,
    strip: bool = True,
    allow_empty: bool = False,
) -> str:
    """A required string field; VALIDATION_ERROR naming it (never quoting its value)."""
    value = body.get(name)
    if not isinstance(value, str):
        raise ValidationError(name, f"{name} is required (a string)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape (\ud800) is no text
        raise ValidationError(name, f"{name} must be valid text") from None
    if strip:
        value = value.strip()
    if (not value and not allow_empty) or len(value) > max_length:
        raise ValidationError(name, f"{name} must be 1 to {max_length} characters")
    return value


async def _refresh_token(request: web.Request) -> str | None:
    """The refresh token of the body (``refresh_token``) or, failing that, of the cookie."""
    if request.can_read_body:
        body = await _json(request)
        value = body.get("refresh_token")
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValidationError("refresh_token", "refresh_token must be a string")
            return value
    return request.cookies.get(COOKIE) or None


async def _bearer(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[len("Bearer ") :].strip():
        raise UnauthenticatedError("missing bearer token")
    return await request.app[STATE].verifier.verify_current(header[len("Bearer ") :].strip())


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


def _is_browser(request: web.Request) -> bool:
    return "Origin" in request.headers


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    allowed = request.app[STATE].settings.allowed_origins
    if not origin_allowed(origin, request.headers.get("Host"), frozenset(allowed)):
        raise ForbiddenError("requests from this origin are not allowed")


# -- responses ----------------------------------------------------------------------


def _session_response(request: web.Request, session: IssuedSession) -> web.Response:
    now = request.app[STATE].now()
    body: dict[str, Any] = {
        "access_token": session.access_token,
        "token_type": "Bearer",
        "expires_in": max(0, int((session.access_expires_at - now).total_seconds())),
        "expires_at": _time(session.access_expires_at),
        "tenant": session.tenant_id,
        "user": _user(session.user),
    }
    refresh_seconds = max(0, int((session.refresh_expires_at - now).total_seconds()))
    browser = _is_browser(request)
    if not browser:
        body["refresh_token"] = session.refresh.token
        body["refresh_expires_in"] = refresh_seconds
    response = web.json_response(body)
    if browser:
        response.set_cookie(
            COOKIE,
            session.refresh.token,
            max_age=refresh_seconds,
            path=PREFIX,
            httponly=True,
            secure=_secure_cookie(request),
            samesite="Strict",
        )
    return response


def _clear_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.set_cookie(
        COOKIE,
        "",
        max_age=0,
        path=PREFIX,
        httponly=True,
        secure=_secure_cookie(request),
        samesite="Strict",
    )


def _secure_cookie(request: web.Request) -> bool:
    """Secure, except over plain HTTP to a loopback host (development only)."""
    if request.secure:
        return True
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _user(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.display_name,
        "email": user.email,
        "kind": user.kind.value,
        "is_tenant_admin": user.is_tenant_admin,
    }


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(exc: Exception, request: web.Request) -> web.Response:
    """The JSON error for ``exc`` (unexpected ones are logged with an error id)."""
    error = error_message(exc, "", f"auth {request.method} {request.path}")
    code = envelope_pb2.ErrorCode.Name(error.code)
    detail: dict[str, Any] = {"code": code, "message": error.message}
    headers = {}
    if error.field:
        detail["field"] = error.field
    if error.error_id:
        detail["error_id"] = error.error_id
    if isinstance(exc, RateLimitedError):
        detail["retry_after_ms"] = error.retry_after_ms
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    status = _STATUS.get(code, 500) if isinstance(exc, PmError) else 500
    response = web.json_response({"error": detail}, status=status, headers=headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
