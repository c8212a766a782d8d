"""JSON in and out for the admin routes: one error shape, every :class:`AuthError` mapped once.

Error bodies are ``{"error": <code>, "detail": <message>}``. Unknown request fields are ignored
(callers may send more than we read), but fields we *do* read are type-checked.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response

from server.auth.errors import (
    AuthDatabaseUnavailable,
    AuthError,
    IdentityNotFound,
    InvalidLifetime,
    InvalidRequest,
    InvalidScope,
)
from server.auth.revocation import RevocationNotShared

MAX_JSON_BODY: Final = 1 << 20

_STATUS: Final[dict[type[AuthError], tuple[int, str]]] = {
    IdentityNotFound: (404, "not_found"),
    InvalidScope: (400, "invalid_scope"),
    InvalidLifetime: (400, "invalid_lifetime"),
    InvalidRequest: (400, "invalid_request"),
    RevocationNotShared: (503, "cluster_unavailable"),
    AuthDatabaseUnavailable: (503, "auth_database_unavailable"),
}


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, headers={"Cache-Control": "no-store"},
                    media_type="application/json")


def error_response(status: int, error: str, detail: str) -> Response:
    return json_response({"error": error, "detail": detail}, status)


def auth_error_response(exc: AuthError) -> Response:
    """Map a package exception to its HTTP answer (404 for unknown ids, 400 for bad input, 503 for
    an unreadable auth database or an unreachable cluster)."""
    status, code = _STATUS.get(type(exc), (400, "invalid_request"))
    detail = f"identity {exc} not found" if isinstance(exc, IdentityNotFound) else str(exc)
    return error_response(status, code, detail)


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; raises :class:`InvalidRequest` otherwise."""
    body = await request.body()
    if not body and optional:
        return {}
    if len(body) > MAX_JSON_BODY:
        raise InvalidRequest("request body too large")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("request body must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    return data


def field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``data[name]`` if present and of ``kind`` (``None`` counts as absent), else ``default``."""
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidRequest(f"{name} must be {names}")
    return value
