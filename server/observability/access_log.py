"""Plain-ASGI access log: a sampled share of requests, and every error, as one JSON line each.

Why not ``BaseHTTPMiddleware``: it wraps every request in a task and a stream (tens of µs).
Here an unsampled request costs one ``random()``, one ``perf_counter()`` and a thin ``send``
wrapper that remembers the status — the line is only built when it will be written.

Fields: ``event="access"``, ``method``, ``path`` (never the query string: ``/segments`` carries
IPs, device ids and URLs there — only ``query_keys``, the parameter names), ``status``,
``duration_ms``, ``client`` (IPv4 /24 or IPv6 /48), ``sampled`` (false = logged because it
failed), ``error`` (exception class, when the app raised).
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import parse_qsl

import structlog

from server.observability.redact import truncate_ip
from server.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("server.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, sample_rate: float = 0.0, error_status: int = 400,
                 rng: Any = None) -> None:
        self.app = app
        self.sample_rate = max(0.0, min(1.0, float(sample_rate)))
        self.error_status = error_status
        self._random = (rng or random.Random()).random

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sampled = self.sample_rate > 0.0 and self.sampled()
        started = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            self.write(scope, status or 500, started, sampled, type(exc).__name__)
            raise
        if sampled or status >= self.error_status:
            self.write(scope, status, started, sampled, None)

    def sampled(self) -> bool:
        return self._random() < self.sample_rate

    def write(self, scope: Scope, status: int, started: float, sampled: bool, error: str | None) -> None:
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "client": truncate_ip(client[0]) if client else None,
            "sampled": sampled,
        }
        query = scope.get("query_string") or b""
        if query:
            names = {k for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True,
                                             max_num_fields=None)}
            fields["query_keys"] = sorted(names)[:10]
        if error is not None:
            fields["error"] = error
        if error is not None or status >= 500:
            log.error("access", **fields)
        elif status >= self.error_status:
            log.warning("access", **fields)
        else:
            log.info("access", **fields)
