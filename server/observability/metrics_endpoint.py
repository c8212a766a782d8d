"""``GET /metrics``: the Prometheus text format, merged across the workers (uvicorn's or granian's).

Under ``segment-server serve --workers N`` (see :mod:`server.observability.metrics_dir`) each
worker writes its values to mmap'd files and any worker answering a scrape merges all of them,
so a fresh :class:`CollectorRegistry` with a :class:`MultiProcessCollector` is built per scrape
(the documented pattern; the default registry would show only the answering worker). With one
worker (or in tests) values live in memory and the default registry is served.
"""

from __future__ import annotations

import asyncio
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import Response

from server.observability import hotpath
from server.observability.access import metrics_refusal
from server.observability.metrics_dir import multiprocess_dir


def registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files in multiprocess mode, else this process."""
    if multiprocess_dir() is None:
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


async def metrics(request: Request) -> Response:
    refused = metrics_refusal(request)
    if refused is not None:
        return refused
    hotpath.flush()  # this worker's tallies; the others flush on their own timers
    body = await asyncio.to_thread(lambda: generate_latest(registry()))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def mark_dead(pid: int | None = None) -> None:
    """At worker exit: drop this pid's live-gauge files (counters and histograms keep counting)."""
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(os.getpid() if pid is None else pid, path)  # type: ignore[no-untyped-call]
