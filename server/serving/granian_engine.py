"""``[server] engine = "granian"``: granian's Rust (hyper) HTTP/1.1 server, ASGI interface.

How ``[server]`` maps onto granian (uvicorn's equivalent in brackets), and what has none:

* ``header_timeout_seconds`` → ``HTTP1Settings.header_read_timeout``: hyper closes a connection
  whose request headers are not complete in time, without a 408 [our protocol: 408 + close].
* ``keep_alive_timeout_seconds`` → **no equivalent**: hyper's header-read timer also runs while a
  kept-alive connection waits for its next request, so idle connections close after
  ``header_timeout_seconds`` (10 s by default, not 15) [uvicorn's ``timeout_keep_alive``].
* ``body_timeout_seconds`` → no granian setting: :class:`~server.serving.body_deadline.BodyDeadline`
  wraps the app (:func:`create_app`) and answers 408 + ``Connection: close`` [our protocol: the same].
* ``max_connections`` → ``backpressure``: past it a worker stops accepting, so new connections
  wait in the kernel's backlog; idle ones are not evicted to make room [our protocol evicts the
  oldest connection that has not sent a request, never a 503].
* header size → ``max_buffer_size`` (32 KiB, :data:`server.protocol.MAX_HEADER_BYTES`): hyper
  answers 431 or closes [our protocol: 431].
* graceful shutdown → ``workers_kill_timeout`` (10 s) [``timeout_graceful_shutdown``].
* a worker that dies → ``respawn_failed_workers`` (granian gives up on a crash loop, < 5.5 s)
  [uvicorn's supervisor restarts it].

Workers are started with multiprocessing's *spawn* method, as uvicorn does: granian would fork
by default, and a forked worker inherits the supervisor's already-imported prometheus-client,
which has decided on in-memory values before ``PROMETHEUS_MULTIPROC_DIR`` was set — each worker
would then count alone and ``/metrics`` would show one worker's share. A spawned worker is a fresh
interpreter that reads the variable at its first import (and no store connection crosses a fork).

granian binds its listening sockets with ``SO_REUSEPORT``, so a second server started on a port
that is already served would *share* it silently (half the traffic to each). :func:`check_port`
binds the address once without that option first and exits 1 naming the address when it is taken,
as uvicorn does.

One Rust thread per worker (``runtime_mode = st``): the Python side is one thread per worker
anyway; a short check on one pinned core found ``st`` and ``mt`` equal in CPU per request within
noise, and ``st`` is the simpler of the two.
"""

from __future__ import annotations

import errno
import multiprocessing
import socket
import sys

import structlog

from server.config import ServerSettings
from server.observability.logging import granian_log_config
from server.protocol import MAX_HEADER_BYTES
from server.serving import GRACEFUL_SECONDS
from server.serving.body_deadline import BodyDeadline

HYPER_MIN_BUFFER = 8192  # hyper refuses a smaller read buffer
APP = f"{__name__}:create_app"  # each worker builds the app, wrapped for the body deadline


def create_app() -> BodyDeadline:
    """``server.app:create_app`` inside :class:`BodyDeadline` (granian's workers call this factory)."""
    from server.app import create_app as build
    from server.config import load_settings

    settings = load_settings()
    return BodyDeadline(build(settings), settings.server.body_timeout_seconds)


def options(server: ServerSettings, log_level: str, log_format: str) -> dict[str, object]:
    """granian's keyword arguments for ``[server]`` (a function, so tests can read the mapping)."""
    from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return {
        "target": APP, "factory": True, "interface": Interfaces.ASGI,
        "address": server.host, "port": server.port, "workers": server.workers,
        "runtime_mode": RuntimeModes.st, "runtime_threads": 1, "loop": Loops.uvloop,
        "http": HTTPModes.http1, "websockets": False,
        "backpressure": server.max_connections,
        "http1_settings": HTTP1Settings(header_read_timeout=round(server.header_timeout_seconds * 1000),
                                        keep_alive=True,
                                        max_buffer_size=max(HYPER_MIN_BUFFER, MAX_HEADER_BYTES)),
        "log_level": LogLevels(log_level if log_level != "trace" else "debug"),
        "log_dictconfig": granian_log_config(log_level, log_format), "log_access": False,
        "workers_kill_timeout": GRACEFUL_SECONDS, "respawn_failed_workers": True,
    }


def check_port(host: str, port: int) -> None:
    """Raise ``OSError`` (EADDRINUSE) when another process listens on ``host:port``, even with
    ``SO_REUSEPORT``; a socket merely in TIME_WAIT does not count (``SO_REUSEADDR``, as uvicorn)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def run(server: ServerSettings, log_level: str, log_format: str) -> None:
    from granian import Granian

    multiprocessing.set_start_method("spawn", force=True)  # see the module docstring
    try:
        check_port(server.host, server.port)
        Granian(**options(server, log_level, log_format)).serve()  # type: ignore[arg-type]
    except OSError as exc:  # the port is taken, or the address is not ours: say so, exit 1
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        structlog.get_logger("server.serving").error("bind_failed", host=server.host, port=server.port,
                                                     error=reason)
        sys.exit(1)
