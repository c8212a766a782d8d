"""Operating the server: ``/metrics``, JSON logs, the access log and the ``/status`` page.

The app mounts :func:`routes`, wraps itself in :class:`AccessLogMiddleware`, and calls
:func:`start` / :func:`stop` from its lifespan (``stop`` last, after the other background tasks,
so their final counts are flushed before this worker's live gauges are dropped).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from server.observability.access_log import AccessLogMiddleware
from server.observability.logging import configure_logging
from server.observability.metrics_endpoint import metrics
from server.observability.runtime import Runtime, start, stop
from server.observability.settings import ObservabilitySettings
from server.observability.settings import from_settings as settings_of
from server.observability.status import status_json, status_page

__all__ = [
    "AccessLogMiddleware",
    "ObservabilitySettings",
    "Runtime",
    "configure_logging",
    "routes",
    "settings_of",
    "start",
    "stop",
]


def routes() -> list[BaseRoute]:
    """``GET /metrics``, ``GET /status``, ``GET /status.json``."""
    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/status", status_page, methods=["GET"]),
        Route("/status.json", status_json, methods=["GET"]),
    ]
