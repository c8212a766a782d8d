"""The outermost ASGI layer: Index's two hot endpoints skip Starlette's stack entirely.

Every other route goes through Starlette (routing, error middleware, the access log). ``POST /rtd``
and ``GET /segments`` are plain ASGI endpoints that never raise for client input, so routing them
through a middleware stack and a router only costs time Index is counting: profiling showed the
stack plus the access log's ``send`` wrapper at ~20 % of a ``/rtd`` request. Here the endpoints
return the status they sent, and the access line is written from that — sampled, or on errors —
without wrapping ``send``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from server.observability import AccessLogMiddleware
from server.types import ASGIApp, Receive, Scope, Send

HotEndpoint = Callable[[Scope, Receive, Send], Awaitable[int]]


class HotPathDispatcher:
    """``app`` is the Starlette app; ``access_log`` wraps it, and every other request goes through it."""

    def __init__(self, app: ASGIApp, hot: Mapping[tuple[str, str], HotEndpoint],
                 access_log: AccessLogMiddleware) -> None:
        self.app = app
        self.hot = dict(hot)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.hot.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
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

    def __getattr__(self, name: str) -> Any:
        """``routes``, ``state``, ``router``…: the wrapped Starlette app answers for the whole app."""
        return getattr(self.app, name)
