"""What every ``/admin`` handler shares: the admin-scope guard, JSON errors, and store access.

Handlers raise; :data:`EXCEPTION_HANDLERS`, Starlette exception handlers, map the exceptions
(auth-package input errors, taxonomy and row errors, a missing snapshot) to JSON answers in one
table. :func:`endpoint` installs them around each admin handler with Starlette's own
``ExceptionMiddleware``, so they apply to these routes only. Store writes block (flock + SQLite),
so handlers run them in the thread pool.
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
from segments.store.base import NoSnapshot, SegmentStore, StoreError
from segments.taxonomy import InvalidSegment
from server.auth.errors import AuthError
from server.auth.guard import Guard
from server.auth.jsonio import auth_error_response, error_response, json_response
from server.auth.require import require
from server.auth.scopes import ADMIN

#: Largest batch one admin request may carry; bulk data goes through ``segment-server load``.
MAX_BATCH: Final = 1000

StoreGetter = Callable[[], SegmentStore]


class BatchError(Exception):
    """A batch with per-item problems; nothing was written. ``errors`` name each item by index."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return auth_error_response(exc)


async def _batch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchError)
    return json_response({"error": "invalid_batch", "detail": str(exc), "errors": exc.errors}, 400)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return error_response(400, "invalid_request", str(exc))


async def _no_snapshot(request: Request, exc: Exception) -> Response:
    return error_response(409, "no_snapshot", str(exc))


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, "store_unavailable", str(exc))


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

#: Exception → JSON answer for every ``/admin`` route (Starlette looks up the nearest base class).
EXCEPTION_HANDLERS: Final[Mapping[type[Exception], ExceptionHandler]] = {
    AuthError: _auth_error,  # 400 / 404, as the auth package says
    BatchError: _batch_error,  # 400, every bad item named
    InvalidSegment: _invalid_request,  # 400
    RowError: _invalid_request,  # 400
    NoSnapshot: _no_snapshot,  # 409: nothing loaded yet
    StoreError: _store_unavailable,  # 503: a damaged snapshot, named; no edit is written into it
}


def endpoint(guard: Guard, fn: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    """An admin route's app: admin scope first, then the handler under :data:`EXCEPTION_HANDLERS`."""
    return ExceptionMiddleware(request_response(require(guard, ADMIN)(fn)), handlers=dict(EXCEPTION_HANDLERS))
