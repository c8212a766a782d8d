"""Hourly ``GET rt-segment-processed``: did Xandr *apply* what it accepted?

rt-segment answers "OK" for users it has never seen and segments we may not use; only the usage
report shows that (reference §B6: ``match_rate`` = valid / (valid + invalid users), counts of
unauthorised / inactive / invalid segments). The last report is stored in the outbox's ``meta``
table (``mirror status`` prints it), exported as gauges, and logged as a warning when it shows
trouble.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import structlog
from prometheus_client import Gauge

from server.mirror.client import XandrClient
from server.mirror.errors import XandrError
from server.mirror.outbox import Outbox
from server.mirror.types import Clock

log = structlog.get_logger("server.mirror.reconcile")

MATCH_RATE = Gauge("segserver_mirror_match_rate",
                   "Xandr rt-segment-processed match_rate of the last hour (%)", multiprocess_mode="max")
PROBLEMS = Gauge("segserver_mirror_processed_problems",
                 "Xandr rt-segment-processed problem counts, last hour", ["kind"], multiprocess_mode="max")

PROBLEM_FIELDS = ("num_invalid_users", "num_unauth_segments", "num_inactive_segments", "num_invalid_segments",
                  "num_other_errors")


@dataclass(frozen=True, slots=True)
class Reconciliation:
    checked_at: float
    processed_hour: str | None
    match_rate: float | None
    num_valid_users: int
    num_valid_adds: int
    num_valid_removes: int
    problems: dict[str, int]
    error_log_lines: str
    error: str | None = None

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()


def summarise(report: list[dict[str, Any]], now: float) -> Reconciliation:
    """Reduce hourly rows to the latest hour (rows are per ``processed_hour``)."""
    if not report:
        return Reconciliation(now, None, None, 0, 0, 0, {k: 0 for k in PROBLEM_FIELDS}, "")
    row = max(report, key=lambda r: str(r.get("processed_hour", "")))

    def num(name: str) -> int:
        v = row.get(name)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0

    rate = row.get("match_rate")
    return Reconciliation(
        checked_at=now, processed_hour=str(row.get("processed_hour")) if row.get("processed_hour") else None,
        match_rate=float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None,
        num_valid_users=num("num_valid_users"), num_valid_adds=num("num_valid_adds"),
        num_valid_removes=num("num_valid_removes"), problems={k: num(k) for k in PROBLEM_FIELDS},
        error_log_lines=str(row.get("error_log_lines") or "")[:4000])


class Reconciler:
    def __init__(self, client: XandrClient, outbox: Outbox, member_id: int | None, interval: float,
                 clock: Clock = time.time) -> None:
        self._client = client
        self._outbox = outbox
        self._member_id = member_id
        self._interval = interval
        self._clock = clock
        self._last = 0.0
        self.latest: Reconciliation | None = None

    async def maybe_run(self) -> Reconciliation | None:
        if self._member_id is None or self._clock() - self._last < self._interval:
            return None
        return await self.run_once()

    async def run_once(self) -> Reconciliation:
        now = self._clock()
        self._last = now
        start = time.strftime("%Y-%m-%d %H:00:00", time.gmtime(now - 7200))
        end = time.strftime("%Y-%m-%d %H:00:00", time.gmtime(now))
        try:
            assert self._member_id is not None
            rows = await self._client.get_processed(self._member_id, start, end)
            result = summarise(rows, now)
        except XandrError as exc:
            result = Reconciliation(now, None, None, 0, 0, 0, {}, "", error=str(exc))
            log.warning("mirror_reconcile_failed", error=str(exc))
        self.latest = result
        await asyncio.to_thread(self._outbox.set_meta, "reconcile", result.to_json())
        if result.match_rate is not None:
            MATCH_RATE.set(result.match_rate)
        for kind, n in result.problems.items():
            PROBLEMS.labels(kind=kind).set(n)
        bad = {k: v for k, v in result.problems.items() if v and k != "num_invalid_users"}
        low_match = result.match_rate is not None and result.match_rate < 50
        log_fn = log.warning if bad or low_match else log.info
        log_fn("mirror_reconcile", match_rate=result.match_rate, hour=result.processed_hour,
               **result.problems)
        return result
