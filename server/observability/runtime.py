"""The per-worker observability task: flush hot-path tallies and sample gauges, then shut down cleanly.

Started and stopped by the app's lifespan (:func:`start` / :func:`stop`), whichever engine runs the
worker: it also counts the worker itself (alive, started, requests answered). Gauges that describe
state rather than events (store snapshot, UID2 keys, outbox depth) are sampled here instead of
being set by whoever changes the state, so they stay right even when nobody touches them (a
snapshot's age grows by itself). Their multiprocess mode is ``live*``: :func:`stop` removes
this worker's files, so a dead worker's stale values never win a ``max``/``min`` merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from server import metrics as M
from server.observability import hotpath, sources
from server.observability.logging import configure_logging
from server.observability.metrics_dir import hold_run_lock
from server.observability.metrics_endpoint import mark_dead
from server.observability.settings import ObservabilitySettings, from_settings

log = structlog.get_logger("server.observability")


@dataclass
class Runtime:
    services: Any
    settings: ObservabilitySettings
    clock: Callable[[], float] = time.time
    task: asyncio.Task[None] | None = None
    outbox_stats: Any = None  # last OutboxStats read (also shown by /status.json)
    outbox_read_at: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


def sample_gauges(services: Any, now: float) -> None:
    """Store snapshot and UID2 key gauges from live objects (cheap attribute reads, no I/O)."""
    with contextlib.suppress(Exception):  # no snapshot yet, or a store without .info
        info = services.store.info
        M.STORE_VERSION.set(info.version)
        M.STORE_ROWS.labels("members").set(info.members)
        M.STORE_ROWS.labels("segments").set(info.segments)
        M.STORE_AGE.set(max(0.0, now - info.created_at))
    for scope, refresher in sources.refreshers(services).items():
        with contextlib.suppress(Exception):  # a broken refresher keeps its last values
            _sample_keys(scope, refresher.ops_state(now), now)


def _sample_keys(scope: str, state: dict[str, Any], now: float) -> None:
    M.UID2_KEYS.labels(scope).set(state.get("count") or 0)
    if state.get("last_refresh") is not None:
        M.UID2_SINCE_REFRESH.labels(scope).set(max(0.0, now - float(state["last_refresh"])))
    if state.get("newest_expiry") is not None:
        M.UID2_TO_EXPIRY.labels(scope).set(float(state["newest_expiry"]) - now)


async def sample_outbox(rt: Runtime, now: float) -> None:
    box = sources.outbox(rt.services)
    if box is None:
        rt.outbox_stats = None
        return
    try:
        stats = await asyncio.to_thread(box.stats)
    except Exception as exc:  # noqa: BLE001 -- a locked or missing outbox must not stop the loop
        rt.errors["outbox"] = type(exc).__name__
        return
    rt.errors.pop("outbox", None)
    rt.outbox_stats, rt.outbox_read_at = stats, now
    M.MIRROR_OUTBOX_DEPTH.set(stats.depth)
    M.MIRROR_OLDEST_AGE.set(stats.oldest_age or 0.0)


def declare_mirror_reasons() -> None:
    """Give the mirror's retried / dead-lettered counters a 0 for every reason in its policy table.

    A labelled counter has no series before its first event; merged from several workers' files it
    is not even declared (prometheus-client writes no file for it). The reasons the sender counts
    for Xandr's per-entity warnings are data (:data:`server.mirror.warnings.WARNING_RULES`), so they
    are declared up front and ``rate()``/alerts see a 0 rather than nothing; reasons that come with
    errors (timeouts, 5xx, rejections) appear at their first occurrence.
    """
    from server.mirror.warnings import UNKNOWN_RULE, WARNING_RULES, Action

    for rule in (*WARNING_RULES, UNKNOWN_RULE):
        if rule.action is Action.DEAD_LETTER:
            M.MIRROR_DEAD.labels(reason=rule.reason)
        elif rule.action is Action.RESEND:
            M.MIRROR_RETRIED.labels(reason=rule.reason)


def answered_here() -> float:
    """Requests this process has counted in ``segserver_requests_total`` (its own values, also in
    multiprocess mode, where a metric read in-process is this pid's file)."""
    return sum(sample.value for family in M.REQUESTS.collect() for sample in family.samples
               if sample.name.endswith("_total"))


async def tick(rt: Runtime) -> None:
    """One round: flush tallies, sample gauges, and read the outbox when it is due."""
    hotpath.flush()
    now = rt.clock()
    sample_gauges(rt.services, now)
    M.WORKER_REQUESTS.set(answered_here())
    if now - rt.outbox_read_at >= rt.settings.outbox_sample_interval_seconds:
        rt.outbox_read_at = now
        await sample_outbox(rt, now)


async def _loop(rt: Runtime) -> None:
    while True:
        try:
            await tick(rt)
        except Exception:
            log.exception("observability_tick_failed")
        await asyncio.sleep(rt.settings.metrics_flush_interval_seconds)


async def start(services: Any, *, configure_logs: bool = True) -> Runtime:
    """Configure logging for this worker and start the flush/sample task."""
    settings = getattr(services, "settings", None)
    obs = from_settings(settings)
    if configure_logs:
        configure_logging(getattr(getattr(settings, "server", None), "log_level", "info"), obs.log_format)
    hold_run_lock()  # this run's metrics directory stays while this worker lives
    M.WORKERS_ALIVE.set(1)  # live gauge: summed over the workers alive, dropped by mark_dead()
    M.WORKER_STARTS.inc()
    declare_mirror_reasons()
    rt = Runtime(services, obs)
    rt.task = asyncio.create_task(_loop(rt), name="observability")
    return rt


async def stop(rt: Runtime) -> None:
    """Last in the lifespan's ``finally``: final flush, then drop this worker's live gauges."""
    if rt.task is not None:
        rt.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rt.task
        rt.task = None
    hotpath.flush()
    mark_dead()
