"""Exception → JSON answer for every admin route (``/admin/…``, identities included), in one table.

Admin handlers raise (the exception tree is drawn in :mod:`server.errors`); they never build an
error response themselves. :data:`EXCEPTION_HANDLERS` says, once, what each exception answers:
status and ``{"error", "detail"}`` body. :func:`admin_endpoint` installs the table around one
route with Starlette's own ``ExceptionMiddleware`` (Starlette looks up the nearest base class),
behind the admin-scope guard, so it applies to the admin routes only: the hot path, health and
metrics routes never see it, and a ``StoreError`` elsewhere stays what it is there.

It lives in ``server.auth`` beside :mod:`~server.auth.jsonio` (the error body shape) because the
identity routes use it too and ``server.admin`` builds on this package, not the other way round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from segments.rows import RowError
from segments.store.base import NoSnapshot, StoreError
from segments.taxonomy import InvalidSegment
from server.auth.errors import AuthError
from server.auth.guard import Guard
from server.auth.jsonio import auth_error_response, error_response, json_response
from server.auth.require import Endpoint, require
from server.auth.scopes import ADMIN
from server.cluster.errors import ClusterUnavailable
from server.errors import BatchError

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return auth_error_response(exc)


async def _batch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchError)
    return json_response({"error": "invalid_batch", "detail": str(exc), "errors": exc.errors}, 400)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return error_response(400, "invalid_request", str(exc))


async def _cluster_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, "cluster_unavailable", str(exc))


async def _no_snapshot(request: Request, exc: Exception) -> Response:
    return error_response(409, "no_snapshot", str(exc))


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, "store_unavailable", str(exc))


#: Exception → JSON answer for every ``/admin`` route.
EXCEPTION_HANDLERS: Final[Mapping[type[Exception], ExceptionHandler]] = {
    AuthError: _auth_error,  # 400 / 404 / 503 (auth database unreadable), as server.auth.jsonio says
    BatchError: _batch_error,  # 400, every bad item named
    InvalidSegment: _invalid_request,  # 400
    RowError: _invalid_request,  # 400
    ClusterUnavailable: _cluster_unavailable,  # 503: the engine did not take an edit; nothing changed
    NoSnapshot: _no_snapshot,  # 409: nothing loaded yet
    StoreError: _store_unavailable,  # 503: a damaged snapshot, named; no edit is written into it
}


def admin_endpoint(guard: Guard, fn: Endpoint) -> ASGIApp:
    """An admin route's app: admin scope first, then ``fn`` under :data:`EXCEPTION_HANDLERS`."""
    return ExceptionMiddleware(request_response(require(guard, ADMIN)(fn)), handlers=dict(EXCEPTION_HANDLERS))
