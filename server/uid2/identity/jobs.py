"""The three identity jobs — map, rotate, opt-out — each resumable from what it last committed.

Resumption points (all in ``identity.sqlite``): *map* works on ``state = 'pending'`` rows;
*rotate* on rows whose ``r`` has passed (v3) or on the ``buckets`` work list, filled together with
the ``v2.since`` cursor in one transaction (v2); *opt-out* walks stored raw UID2s in order from
the ``optout.after`` cursor. Within a batch the snapshot is written first and the identity row
second (see :mod:`.mapping`), so a kill at any point loses nothing and repeats only idempotent
writes. Batches are sequential on one connection, as the operator asks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import structlog

from segments.store.writer import StoreWriter

from ... import metrics as M
from ..operator import OperatorClient
from .errors import IdentityError
from .mapping import IdentityDB
from .optout import OptOutStatusClient
from .retry import Backoff
from .settings import IdentitySettings
from .storesync import StoreSync
from .types import JobName, Outcome, Pending
from .v2 import IdentityMapV2
from .v3 import IdentityMapV3

__all__ = ["Checkpoint", "IdentityJobs", "JobReport"]

log = structlog.get_logger("server.uid2.identity")


@runtime_checkable
class SharesOptOuts(Protocol):
    """A store writer that also tells every node's identity database (a cluster's ``StreamWriter``)."""

    def share_optouts(self, since: dict[str, float]) -> None: ...

Checkpoint = Callable[[str], None]  # test seam: called at named points, e.g. to crash mid-batch
RECHECK_WITHOUT_R = 86400  # a v3 answer without ``r``: look again tomorrow
MIN_REFRESH = 60  # never due again within a minute of a mapping (guards against an ``r`` in the past)


@dataclass(slots=True)
class JobReport:
    job: JobName
    api: str
    batches: int = 0
    mapped: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)
    rekeyed: int = 0
    opted_out: int = 0
    removed_keys: int = 0
    buckets: int = 0
    error: str | None = None
    status_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class IdentityJobs:
    def __init__(self, *, db: IdentityDB, writer: StoreWriter, operator: OperatorClient,
                 settings: IdentitySettings, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_optout: Callable[[list[str]], None] | None = None,
                 checkpoint: Checkpoint | None = None, rng: random.Random | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.on_optout = on_optout
        self.checkpoint = checkpoint or (lambda _name: None)
        backoff = Backoff(settings.retry_attempts, settings.retry_initial_seconds, settings.retry_max_seconds,
                          sleep=sleep, rng=rng)
        limits = {"max_items": settings.map_batch_size, "max_bytes": settings.max_request_bytes}
        self.v3 = IdentityMapV3(operator, backoff, **limits)
        self.v2 = IdentityMapV2(operator, backoff, **limits)
        self.optout_client = OptOutStatusClient(operator, backoff, max_items=settings.optout_batch_size)
        self.sync = StoreSync(writer, settings.alias_seconds)

    async def run(self, name: JobName) -> JobReport:
        """Run one job to completion or to its first unrecoverable error (recorded, not raised)."""
        report = JobReport(name, self.settings.api)
        self.db.job_started(name, self.clock())
        step = {"map": self._map, "rotate": self._rotate, "optout": self._optout}[name]
        try:
            await step(report)
        except IdentityError as exc:
            report.error, report.status_code = str(exc), exc.status_code
            log.error("identity job failed", job=name, error=str(exc), status=exc.status_code,
                      endpoint=exc.endpoint)
        except BaseException as exc:
            self.db.job_finished(name, self.clock(), error=f"{type(exc).__name__}: {exc}",
                                 detail=report.as_dict())
            M.IDENTITY_JOB_RUNS.labels(name, "crashed").inc()
            raise
        self.db.job_finished(name, self.clock(), error=report.error, detail=report.as_dict())
        M.IDENTITY_JOB_RUNS.labels(name, "failed" if report.error else "ok").inc()
        M.IDENTITY_PENDING.set(self.db.counts()["pending"])
        log.info("identity job finished", **report.as_dict())
        return report

    # -- map & rotate ----------------------------------------------------------------------

    async def _map(self, report: JobReport) -> None:
        while batch := self.db.pending(self.settings.map_batch_size):
            await self._remap(batch, report)

    async def _rotate(self, report: JobReport) -> None:
        self._sweep_aliases(report)
        if self.settings.api == "v3":
            await self._drain(lambda: self.db.due_for_refresh(self.clock(), self.settings.map_batch_size),
                              report)
            return
        started = self.clock()
        since = self.db.cursor("v2.since")
        start = float(since) if since is not None else started
        rotated = await self.v2.buckets(start - self.settings.bucket_overlap_seconds)
        with self.db.transaction() as conn:  # the work list and the cursor move together
            self.db.add_buckets(conn, rotated)
            self.db.set_cursor(conn, "v2.since", repr(started))
        self.checkpoint("rotate.buckets")
        for bucket, last_updated in self.db.open_buckets():
            await self._drain(lambda b=bucket, t=last_updated: self.db.stale_in_bucket(  # type: ignore[misc]
                b, t, self.settings.map_batch_size), report)
            self.db.close_bucket(bucket, last_updated)
            report.buckets += 1
        await self._drain(lambda: self.db.without_bucket(self.settings.map_batch_size), report)

    async def _drain(self, select: Callable[[], list[Pending]], report: JobReport) -> None:
        seen: set[str] = set()
        while batch := [p for p in select() if p.did not in seen]:
            seen.update(p.did for p in batch)
            await self._remap(batch, report)

    async def _remap(self, batch: list[Pending], report: JobReport) -> None:
        dids = [p.did for p in batch]
        api = self.settings.api
        outcomes = await (self.v3.map(dids) if api == "v3" else self.v2.map(dids))
        now = self.clock()
        if api == "v3":
            outcomes = [o if o.uid is None else dataclasses.replace(
                o, refresh_at=max(o.refresh_at or int(now + RECHECK_WITHOUT_R), int(now + MIN_REFRESH)))
                for o in outcomes]
        old = {p.did: p.uid for p in batch}
        prevs = self.db.prev_of(dids)
        members = self.db.members_of(dids)
        alias_until = self.db.alias_until({u for o in outcomes for u in (old[o.did], o.prev) if u})
        rekeyed = self.sync.apply(outcomes, old, members, alias_until, now=now)
        report.rekeyed += rekeyed
        M.IDENTITY_REKEYED.labels(api).inc(rekeyed)
        gone = [u for o in outcomes if o.reason == "optout" for u in (old[o.did], prevs.get(o.did)) if u]
        if gone:
            self._opted_out({u: now for u in gone}, "map", report)
        self.checkpoint("map.stored")
        with self.db.transaction() as conn:
            self.db.record_outcomes(conn, outcomes, old, now=now,
                                    alias_until=now + self.settings.alias_seconds)
        report.batches += 1
        self._count(outcomes, report)

    def _count(self, outcomes: list[Outcome], report: JobReport) -> None:
        api = self.settings.api
        for o in outcomes:
            result = "mapped" if o.uid else (o.reason or "unknown")
            if o.uid:
                report.mapped += 1
            else:
                report.unmapped[result] = report.unmapped.get(result, 0) + 1
            M.IDENTITY_MAPPED.labels(api, result if not result.startswith("unknown") else "unknown").inc()

    def _sweep_aliases(self, report: JobReport) -> None:
        now = self.clock()
        while expired := self.db.expired_aliases(now, 1000):
            doomed = [u for u in expired if not self.db.is_current_uid(u)]
            report.removed_keys += self.sync.remove(doomed)
            self.db.drop_aliases(expired)

    # -- opt-out -------------------------------------------------------------------------------

    async def _optout(self, report: JobReport) -> None:
        after = self.db.cursor("optout.after") or ""
        while uids := self.db.mapped_uids_after(after, self.settings.optout_batch_size):
            opted = await self.optout_client.status(uids)
            targets = self.db.dids_with_uids(list(opted)) if opted else []
            if opted:
                prevs = self.db.prev_of(p.did for p in targets)
                since = dict(opted)
                for p in targets:
                    if p.did in prevs and p.uid:
                        since.setdefault(prevs[p.did], opted[p.uid])
                self._opted_out(since, "status", report)
            self.checkpoint("optout.stored")
            after = uids[-1]
            with self.db.transaction() as conn:
                now = self.clock()
                conn.executemany("UPDATE dii SET state = 'unmapped', reason = 'optout', uid = NULL, "
                                 "mapped_at = ?"
                                 " WHERE did = ?", [(now, p.did) for p in targets])
                self.db.set_cursor(conn, "optout.after", after)
            report.batches += 1
        with self.db.transaction() as conn:  # a full pass is done: the next run starts from the top
            self.db.set_cursor(conn, "optout.after", "")
            self.db.set_cursor(conn, "optout.completed", repr(self.clock()))

    def _opted_out(self, since: dict[str, float], source: str, report: JobReport) -> None:
        """Record first (so /rtd refuses at once), then remove memberships, then tell the mirror."""
        self.db.add_optouts(since.items())
        if isinstance(self.sync.writer, SharesOptOuts):  # [cluster]: every node's /rtd refuses them too
            self.sync.writer.share_optouts(since)
        report.removed_keys += self.sync.remove(since)
        report.opted_out += len(since)
        M.IDENTITY_OPTOUTS.labels(source).inc(len(since))
        if self.on_optout is not None:
            self.on_optout(list(since))
