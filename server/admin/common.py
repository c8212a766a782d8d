"""What every ``/admin`` handler shares: the admin-scope guard, JSON errors, and store access.

Handlers raise; :func:`endpoint` maps the exceptions (auth-package input errors, taxonomy and
row errors, a missing snapshot) to JSON answers in one place. Store writes block (flock +
SQLite), so handlers run them in the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from segments.rows import RowError
from segments.store.base import NoSnapshot, SegmentStore, StoreError
from segments.taxonomy import InvalidSegment
from server.auth.errors import AuthError
from server.auth.guard import Guard
from server.auth.jsonio import auth_error_response, error_response, json_response
from server.auth.require import Endpoint, require
from server.auth.scopes import ADMIN

#: Largest batch one admin request may carry; bulk data goes through ``segment-server load``.
MAX_BATCH: Final = 1000

StoreGetter = Callable[[], SegmentStore]


class BatchError(Exception):
    """A batch with per-item problems; nothing was written. ``errors`` name each item by index."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


def endpoint(guard: Guard, fn: Callable[[Request], Awaitable[Response]]) -> Endpoint:
    """Wrap a handler: admin scope first, then exception → JSON error mapping."""

    async def handle(request: Request) -> Response:
        try:
            return await fn(request)
        except AuthError as exc:
            return auth_error_response(exc)
        except BatchError as exc:
            return json_response({"error": "invalid_batch", "detail": str(exc), "errors": exc.errors}, 400)
        except (InvalidSegment, RowError) as exc:
            return error_response(400, "invalid_request", str(exc))
        except NoSnapshot as exc:
            return error_response(409, "no_snapshot", str(exc))
        except StoreError as exc:  # a damaged snapshot, named: no edit is written into it
            return error_response(503, "store_unavailable", str(exc))

    handle.__name__ = fn.__name__
    handle.__doc__ = fn.__doc__
    return require(guard, ADMIN)(handle)
