"""Starlette-facing wrappers around :class:`~server.auth.guard.Guard`: a decorator for endpoints
and an ASGI middleware for mounted sub-apps (the admin API).

Kept apart from ``guard.py`` because that module is on the hot path and compiled with mypyc
(see :mod:`segments.compiled`); Starlette tells endpoints from ASGI apps by ``inspect``-ing for
Python functions, which a compiled wrapper is not.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.auth.guard import Guard

Endpoint = Callable[[Request], Awaitable[Response]]


def require(guard: Guard, scope: str) -> Callable[[Endpoint], Endpoint]:
    """Decorator for Starlette endpoints: refuse the request unless the token grants ``scope``."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            denial = guard.check(request.headers.get("authorization"), scope)
            if denial is not None:
                return denial.response()
            return await endpoint(request)

        return guarded

    return decorate


class RequireScope:
    """Plain ASGI middleware guarding a whole sub-app (e.g. ``Mount("/admin", …)``)."""

    def __init__(self, app: ASGIApp, guard: Guard, scope: str) -> None:
        self.app = app
        self.guard = guard
        self.scope = scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            denial = self.guard.check(header, self.scope)
            if denial is not None:
                await denial.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
