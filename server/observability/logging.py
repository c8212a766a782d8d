"""JSON-lines logging for every process: structlog and the stdlib (uvicorn, libraries) alike.

One line per record on stdout, rendered by the same processor chain, so a redaction rule added in
:mod:`server.observability.redact` covers both worlds. Configured once per process (each uvicorn
worker calls :func:`configure_logging` from the lifespan; CLI commands may call it too).

Lines carry ``ts`` (UTC ISO-8601), ``level``, ``event``, ``logger`` (stdlib records), ``pid``
and the record's own fields; exceptions arrive as one ``exception`` string, redacted like the rest.

One format per run: ``serve`` configures this module first thing and hands uvicorn
:func:`uvicorn_log_config`, whose handler factory configures it again in every spawned worker
before uvicorn writes its first line — so uvicorn's own startup lines, library warnings and our
events all come out in the run's format. uvicorn's access logger stays off: it would write the
raw query string (ids, IPs, URLs) once per request; :mod:`server.observability.access_log`
replaces it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from server.observability.redact import redact_processor

_LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
           "info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}
#: uvicorn installs its own handlers per worker; they are replaced so its lines are JSON too.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
#: Off for good: one line per request with the raw query (our access log replaces it).
_UVICORN_ACCESS = "uvicorn.access"


class _Sink:
    """Where every rendered line goes; swappable, because structlog caches loggers on first use."""

    def __init__(self) -> None:
        self.stream: TextIO | None = None
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


_SINK = _Sink()


class _SinkLogger:
    """The structlog "logger" at the end of the chain: every level writes one line to the sink."""

    def msg(self, message: str) -> None:
        _SINK.write_line(message)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _SinkHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _SINK.write_line(self.format(record))
        except Exception:  # noqa: BLE001  # pragma: no cover - logging must never take a request down
            self.handleError(record)


def _add_pid(logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    event_dict["pid"] = os.getpid()
    return event_dict


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


_configured = False
_handler: logging.Handler | None = None


def set_stream(stream: TextIO | None) -> None:
    """Send every line to ``stream`` (``None``: stdout); for tests that capture logs."""
    _SINK.stream = stream


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None,
                      *, force: bool = False) -> logging.Handler:
    """Set up structlog and the stdlib root logger once per process; later calls do nothing.

    ``stream`` (default: stdout at write time) redirects every line, as :func:`set_stream` does.
    Returns the root handler every stdlib record goes through.
    """
    global _configured, _handler
    if stream is not None:
        _SINK.stream = stream
    if _configured and not force and _handler is not None:
        return _handler
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    renderer: Callable[..., Any] = (structlog.dev.ConsoleRenderer(colors=False) if fmt == "console"
                                    else structlog.processors.JSONRenderer(serializer=_dumps))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_pid,
    ]
    tail: list[Any] = [structlog.processors.format_exc_info, redact_processor, renderer]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: _SinkLogger(),
        # Not cached: structlog.testing.capture_logs (used by tests) must still see module-level
        # loggers after an app has configured logging, and a line costs ~2 µs more — logging is
        # off the hot path (the access log writes only sampled and failed requests).
        cache_logger_on_first_use=False,
    )
    handler = _SinkHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    ))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _SinkHandler)] + [handler]
    root.setLevel(numeric)
    for name in _UVICORN_LOGGERS:
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    access = logging.getLogger(_UVICORN_ACCESS)
    access.handlers = []
    access.propagate = False  # uvicorn checks hasHandlers() per connection: nothing is formatted
    logging.captureWarnings(True)  # warnings.warn → the "py.warnings" logger → one line in our format
    _configured, _handler = True, handler
    return handler


def _uvicorn_handler(log_level: str, log_format: str) -> logging.Handler:
    """dictConfig handler factory: configure this process (a uvicorn worker too) and share its handler."""
    return configure_logging(log_level, log_format, force=True)


def uvicorn_log_config(level: str, fmt: str) -> dict[str, Any]:
    """uvicorn's ``log_config``: its loggers propagate to our one root handler; its access log is off.

    A plain dict (uvicorn pickles it into each spawned worker, which applies it with dictConfig).
    """
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"sink": {"()": f"{__name__}._uvicorn_handler", "log_level": level, "log_format": fmt}},
        "loggers": {
            **{name: {"handlers": [], "propagate": True, "level": numeric} for name in _UVICORN_LOGGERS},
            _UVICORN_ACCESS: {"handlers": [], "propagate": False},
        },
        "root": {"handlers": ["sink"], "level": numeric},
    }


#: granian's own loggers (the Rust side logs through ``_granian``); its access log stays off.
_GRANIAN_LOGGERS = ("_granian",)
_GRANIAN_ACCESS = "granian.access"


def granian_log_config(level: str, fmt: str) -> dict[str, Any]:
    """granian's ``log_dictconfig``: the same one root handler, in the supervisor and every worker.

    granian merges this over its defaults key by key (``loggers`` and ``handlers`` replaced whole),
    then applies it with dictConfig in each process, as uvicorn does with :func:`uvicorn_log_config`.
    """
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {},
        "handlers": {"sink": {"()": f"{__name__}._uvicorn_handler", "log_level": level, "log_format": fmt}},
        "loggers": {
            **{name: {"handlers": [], "propagate": True, "level": numeric} for name in _GRANIAN_LOGGERS},
            _GRANIAN_ACCESS: {"handlers": [], "propagate": False},
        },
        "root": {"handlers": ["sink"], "level": numeric},
    }
