"""The ASGI application: routes, and a lifespan that owns every long-lived object and task.

Shutdown follows uvicorn's order (stop accepting → let requests finish → lifespan shutdown), so
the lifespan's ``finally`` is where queues are flushed and background tasks stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server import health
from server import observability as obs
from server.admin import admin_routes
from server.auth import build_auth
from server.cached_api import CachedApiEndpoint
from server.config import Settings, load_settings
from server.dispatch import HotEndpoint, SegmentServerApp
from server.http import error_body, send_bytes
from server.openapi import openapi_route
from server.rtd import RtdEndpoint
from server.runtime import freeze_startup_heap
from server.services import Services
from server.types import Receive, Scope, Send
from server.wiring import (
    build_services,
    readiness_checks,
    start_background,
    stop_background,
    subsystem_status,
)

RTD = ("POST", "/rtd")
SEGMENTS = ("GET", "/segments")
DIRECT_RTD, DIRECT_SEGMENTS = (b"POST", b"/rtd"), (b"GET", b"/segments")  # server.direct: raw method, path


class _Deferred:
    """An ASGI endpoint whose real handler is built in the lifespan (after fork, per worker).

    Outside the lifespan it answers 503; inside it, the dispatcher calls the real endpoint
    directly (an interpreted ``await`` hop less per request).
    """

    def __init__(self) -> None:
        self.app: HotEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        if self.app is None:
            await send_bytes(send, 503, error_body("starting up"))
            return 503
        return await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, services: Services | None = None) -> SegmentServerApp:
    """Build the app. ``services`` lets tests inject collaborators built around a temp data dir."""
    settings = settings or load_settings()
    rtd, segments = _Deferred(), _Deferred()
    auth = build_auth(settings.data_dir, settings.auth)  # holds nothing open: safe before fork

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        svc = services or build_services(settings)
        svc.guard = svc.guard or auth.guard
        auth.startup()  # a signing key exists; this worker's revocation view is loaded
        ops = await obs.start(svc)  # JSON logs for this worker; tally flush + gauge sampling task
        rtd.app = RtdEndpoint(svc)
        segments.app = CachedApiEndpoint(svc)
        app.hot.update({RTD: rtd.app, SEGMENTS: segments.app})  # no placeholder hop per request
        app.direct.update({DIRECT_RTD: rtd.app.reply, DIRECT_SEGMENTS: segments.app.reply})
        app.state.services = svc
        app.state.readiness = readiness_checks(svc)
        app.state.readiness["auth_db"] = auth.readiness  # auth.sqlite3 readable (issue 25 item 4)
        svc.extras["auth"] = auth  # [cluster] shares the token endpoint's failure counts
        tasks = await start_background(svc)
        if settings.server.gc_freeze:
            freeze_startup_heap()  # last startup step: everything built above is long-lived
        try:
            yield
        finally:
            app.hot.update(placeholders)
            app.direct.clear()
            await stop_background(svc, tasks)
            if services is None:
                svc.store.close()
            auth.shutdown()
            await obs.stop(ops)  # last: final flush, then this worker's live gauges are dropped

    routes: list[BaseRoute] = [
        Route("/rtd", rtd, methods=["POST"]),
        Route("/segments", segments, methods=["GET"]),
        Route("/health/live", health.live, methods=["GET"]),
        Route("/health/ready", health.ready, methods=["GET"]),
        *obs.routes(),  # GET /metrics, /status, /status.json
        Route("/openapi.json", openapi_route(settings.cached_api), methods=["GET"]),
        *auth.routes(),  # POST /oauth/token, /admin/identities…
        *admin_routes(settings.data_dir, lambda: app.state.services.store, auth.guard,
                      identities=auth.service,
                      providers={"subsystems": lambda: subsystem_status(app.state.services)}),
    ]
    # One access log for every route: it wraps Starlette's own stack (error middleware included)
    # and the app writes the hot endpoints' lines through the same object.
    app = SegmentServerApp(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error},
                           access_log_sample_rate=settings.server.access_log_sample_rate,
                           access_log_error_status=obs.settings_of(settings).access_log_error_status)
    app.state.settings = settings
    placeholders: dict[tuple[str, str], HotEndpoint] = {RTD: rtd, SEGMENTS: segments}
    app.hot.update(placeholders)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in the JSON shape every other error has."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return Response(error_body(exc.detail), status_code=exc.status_code, headers=exc.headers,
                    media_type="application/json")
