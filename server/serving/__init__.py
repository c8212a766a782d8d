"""The HTTP front end ``segment-server serve`` runs the app under: ``[server] engine``.

Both engines serve the same ASGI app (``server.app:create_app``, built once per worker process),
run its lifespan in every worker, start ``[server] workers`` processes from one supervisor, drain
in-flight requests on SIGTERM/SIGINT (at most :data:`GRACEFUL_SECONDS`) and count into the same
Prometheus registry (``/metrics``; :mod:`server.observability.metrics_dir` has decided memory or
per-run directory before this runs). What differs is the protection against hostile clients; each
engine's module says what it enforces and what it cannot.

* ``uvicorn`` (:mod:`server.serving.uvicorn_engine`): uvloop + httptools with our
  :class:`~server.protocol.GuardedHttpToolsProtocol` (header and body timeouts, eviction at the
  connection cap). The default.
* ``granian`` (:mod:`server.serving.granian_engine`): granian's Rust (hyper) HTTP/1.1 server in
  ASGI mode. Kept selectable: the same-run benchmark (README "Performance") decides the default.
"""

from __future__ import annotations

from typing import Final

from server.config import Settings

ENGINES: Final = ("uvicorn", "granian")
GRACEFUL_SECONDS: Final = 10  # in-flight requests get this long after SIGTERM before workers are killed
APP: Final = "server.app:create_app"  # a factory: each worker builds its own app after it started


def run(settings: Settings, log_level: str, log_format: str) -> None:
    """Serve until a signal stops the server; returns when every worker has stopped."""
    if settings.server.engine == "granian":
        from server.serving import granian_engine

        granian_engine.run(settings.server, log_level, log_format)
    else:
        from server.serving import uvicorn_engine

        uvicorn_engine.run(settings.server, log_level, log_format)
