"""``segment-server worker``: run map, rotate and opt-out on their schedules, one at a time.

The schedule lives in ``identity.sqlite`` (the ``jobs`` table), so a restarted worker neither
repeats a job that just ran nor forgets one that was due; a job found ``running`` was killed
mid-way and resumes at once from its own cursor. Only one process may run identity jobs: an
``flock`` on ``<data_dir>/identity.lock`` makes a second worker (or a ``--now`` run from the CLI)
wait its turn instead of interleaving batches.

With ``[cluster] enabled`` the lock is not enough (it is per machine): each job also runs only
while this process holds the cluster's identity lease (:mod:`server.cluster.jobs`, given as
``cluster``). A job held by another node is skipped and looked at again ``poll_seconds`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import structlog

from segments.filelock import held
from segments.store.snapshots import SnapshotDir
from segments.store.writer import StoreWriter

from ..operator import OperatorClient
from ..settings import UID2Settings
from .jobs import IdentityJobs, JobReport
from .mapping import IdentityDB
from .settings import IdentitySettings
from .types import JOBS, JobName

__all__ = ["IdentityWorker", "exclusive", "open_jobs"]

log = structlog.get_logger("server.uid2.identity")
FAILED_RETRY_SECONDS = 300.0


class JobLease(Protocol):
    """``server.cluster.jobs.ClusterJobs``: run a job holding the cluster lease, or say who holds it."""

    async def run(self, name: str, job: Callable[[], Awaitable[Any]]) -> tuple[Any, str | None]: ...


@contextlib.contextmanager
def exclusive(data_dir: str | Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold the identity-jobs lock; yields False (without waiting) if ``wait`` is off and it is taken."""
    path = Path(data_dir) / "identity.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with held(path, blocking=wait) as got:
        yield got


@contextlib.asynccontextmanager
async def open_jobs(data_dir: str | Path, settings: IdentitySettings, uid2: UID2Settings, *,
                    transport: httpx.AsyncBaseTransport | None = None,
                    on_optout: Callable[[list[str]], None] | None = None,
                    clock: Callable[[], float] = time.time,
                    **job_options: Any) -> AsyncIterator[IdentityJobs]:
    """Build the jobs on a real store and operator client; closes both on exit.

    ``job_options`` go to :class:`IdentityJobs` (``sleep``, ``checkpoint``, ``rng``: test seams).
    """
    operator_settings = settings.operator_settings(uid2)
    SnapshotDir(data_dir).ensure()
    writer = job_options.pop("writer", None) or StoreWriter(data_dir)  # [cluster]: a StreamWriter
    db = IdentityDB(data_dir)
    operator = OperatorClient(operator_settings.base_url, operator_settings.api_key,
                              operator_settings.load_secret(), timeout=operator_settings.timeout,
                              total_timeout=operator_settings.total_timeout_seconds,
                              transport=transport, clock=clock)
    try:
        yield IdentityJobs(db=db, writer=writer, operator=operator, settings=settings,
                           clock=clock, on_optout=on_optout, **job_options)
    finally:
        await operator.aclose()
        db.close()


class IdentityWorker:
    def __init__(self, jobs: IdentityJobs, settings: IdentitySettings, data_dir: str | Path, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 cluster: JobLease | None = None) -> None:
        self.jobs = jobs
        self.cluster = cluster
        self._held_elsewhere: dict[JobName, float] = {}  # job -> when to look again
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock
        self.sleep = sleep
        self.intervals: dict[JobName, float] = {
            "map": settings.map_interval_seconds,
            "rotate": settings.rotate_interval_seconds,
            "optout": settings.optout_interval_seconds,
        }

    def next_due(self, name: JobName) -> float:
        return max(self._next_due(name), self._held_elsewhere.get(name, 0.0))

    async def run_one(self, name: JobName) -> JobReport | None:
        """Run ``name`` now (holding the cluster lease if clustered); ``None`` if held elsewhere."""
        if self.cluster is None:
            return await self.jobs.run(name)
        report, holder = await self.cluster.run(name, lambda: self.jobs.run(name))
        if holder is not None:
            log.info("identity job runs elsewhere", job=name, holder=holder)
            self._held_elsewhere[name] = self.clock() + self.settings.poll_seconds
            return None
        self._held_elsewhere.pop(name, None)
        assert isinstance(report, JobReport)
        return report

    def _next_due(self, name: JobName) -> float:
        status = self.jobs.db.job_status().get(name)
        if status is None or status["state"] == "running" or status["finished"] is None:
            return 0.0
        if status["state"] == "failed":
            return float(status["finished"]) + min(self.intervals[name], FAILED_RETRY_SECONDS)
        return float(status["finished"]) + self.intervals[name]

    async def run_due(self) -> list[JobReport]:
        reports = []
        for name in JOBS:
            if self.clock() >= self.next_due(name):
                with exclusive(self.data_dir):
                    try:
                        if (report := await self.run_one(name)) is not None:
                            reports.append(report)
                    except Exception:  # e.g. "database is locked" during a long load: try next tick
                        log.exception("identity job crashed; will retry", job=name)
        return reports

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("identity worker started", api=self.settings.api)
        while not stop.is_set():
            await self.run_due()
            wake = min(self.next_due(n) for n in JOBS)
            delay = max(0.0, min(self.settings.poll_seconds, wake - self.clock()))
            if not delay:
                await self.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        log.info("identity worker stopped")
