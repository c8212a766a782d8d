"""The application class: a Starlette app whose ``__call__`` takes Index's two hot routes first.

Every other route goes through Starlette (routing, error middleware, the access log). ``POST /rtd``
and ``GET /segments`` are plain ASGI endpoints that never raise for client input, so routing them
through a middleware stack and a router only costs time Index is counting: profiling showed the
stack plus the access log's ``send`` wrapper at ~20 % of a ``/rtd`` request. Here the endpoints
return the status they sent, and the access line is written from that — sampled, or on errors —
without wrapping ``send``. :attr:`SegmentServerApp.direct` offers the same endpoints to
:mod:`server.direct`, which answers a complete request straight from the socket's buffer (no ASGI
task, no messages) through :meth:`SegmentServerApp.reply_direct`. The app *is* a
:class:`~starlette.applications.Starlette` (``state``, ``routes``, ``router``, ``url_path_for``
are its own), so servers and tests see a normal app.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette

from server.http import Headers, Reply
from server.observability import AccessLogMiddleware
from server.types import Receive, Scope, Send

HotEndpoint = Callable[[Scope, Receive, Send], Awaitable[int]]
DirectEndpoint = Callable[[Headers, bytes, bytes], "Reply | None"]
"""``(headers, query string, body) → reply``, or ``None`` for a request only the ASGI path answers."""


class SegmentServerApp(Starlette):
    """``hot`` maps ``(method, path)`` to an endpoint returning its status; every other request
    goes through :attr:`access_log`, which wraps Starlette's own ``__call__`` (built once)."""

    def __init__(self, *, access_log_sample_rate: float, access_log_error_status: int,
                 **starlette: Any) -> None:
        super().__init__(**starlette)
        self.hot: dict[tuple[str, str], HotEndpoint] = {}
        # (method, raw path) → the same endpoints for the direct path; filled and emptied by the
        # lifespan, so a request outside it goes the ASGI way (and gets the placeholder's 503)
        self.direct: dict[tuple[bytes, bytes], DirectEndpoint] = {}
        self.access_log = AccessLogMiddleware(self._starlette, sample_rate=access_log_sample_rate,
                                              error_status=access_log_error_status)

    async def _starlette(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(self, scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http":
            endpoint = self.hot.get((scope.get("method", ""), scope.get("path", "")))
        if endpoint is None:
            await self.access_log(scope, receive, send)
            return
        log = self.access_log
        sampled = log.sample_rate > 0.0 and log.sampled()
        started = time.perf_counter()
        try:
            status = await endpoint(scope, receive, send)
        except BaseException as exc:
            log.write(scope, 500, started, sampled, type(exc).__name__)
            raise
        if sampled or status >= log.error_status:
            log.write(scope, status, started, sampled, None)

    def reply_direct(self, endpoint: DirectEndpoint, request: tuple[object, bytes, bytes], headers: Headers,
                     query: bytes, body: bytes) -> Reply | None:
        """``endpoint``'s reply, with the access line :meth:`__call__` would write. ``request`` is
        the client's address, the method and the path: read only to write a line."""
        log = self.access_log
        sampled = log.sample_rate > 0.0 and log.sampled()
        started = time.perf_counter()
        try:
            reply = endpoint(headers, query, body)
        except BaseException as exc:
            log.write(_named(request, query), 500, started, sampled, type(exc).__name__)
            raise
        if reply is not None and (sampled or reply[0] >= log.error_status):
            log.write(_named(request, query), reply[0], started, sampled, None)
        return reply


def _named(request: tuple[object, bytes, bytes], query: bytes) -> Scope:
    """The scope fields an access line names, for a request that never had a scope."""
    client, method, path = request
    return {"client": client, "method": method.decode("latin-1"), "path": path.decode("latin-1"),
            "query_string": query}
