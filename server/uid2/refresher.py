"""Background key refresh: once at start, then hourly with jitter, backing off on failure.

The refresher is the decryptor's key source: ``snapshot`` is replaced by one assignment after a
successful fetch, so readers never see a half-built key set, and on any failure the last good
snapshot keeps serving. Backoff is plain asyncio (exponential, full jitter, capped) rather than a
retry library, because the schedule must survive failures forever, be visible to ops
(``next_refresh``) and be driven by an injected clock and sleep in tests.

Readiness: NOT_INITIALIZED until the first successful load, KEYS_NOT_SYNCED once every key in the
snapshot has expired (e.g. the operator has been unreachable for days), READY otherwise.

Early refresh (issue 26 item 13; no reference SDK does this): after the operator rotates keys, a
token on the new key names a key id we do not hold, and would fail NOT_AUTHORIZED_FOR_MASTER_KEY
until the next scheduled refresh — up to an hour of lost matches. So the key set tells us (via
``KeySet.report_missing_key``, called by the decryptor only on that miss) and we fetch at once
in the background. The request path only compares a time and, at most once per
``early_interval`` per worker, wakes the background task: no I/O, no waiting. Across workers, a
small stamp file in the data dir records when any worker last fetched early and which key ids it
got: a worker skips its early fetch when a sibling fetched within the interval and did *not* get
the missing id (a bogus or foreign id costs the operator one call per interval, not one per
worker), and fetches when the sibling did (every worker needs the new key). Each outcome is
counted in ``segserver_uid2_early_refreshes_total{scope,result}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
from prometheus_client import Counter

from .keys import KeySet
from .operator import OperatorClient
from .settings import UID2Settings

__all__ = ["EARLY_REFRESH_INTERVAL_S", "KeyRefresher", "Readiness"]

logger = logging.getLogger("server.uid2.refresher")

#: At most one early refresh per this many seconds per worker (and see the stamp file above).
EARLY_REFRESH_INTERVAL_S: Final = 30.0
EARLY_REFRESHES = Counter(
    "segserver_uid2_early_refreshes_total",
    "Key refreshes brought forward by a token naming an unknown key id, by outcome "
    "(refreshed, failed, skipped: a sibling worker just fetched and did not get that id)",
    ["scope", "result"],
)


class Readiness(enum.Enum):
    READY = "READY"
    NOT_INITIALIZED = "NOT_INITIALIZED"
    KEYS_NOT_SYNCED = "KEYS_NOT_SYNCED"


class KeyRefresher:
    """Holds the current ``KeySet`` for one identity scope and keeps it fresh."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[KeySet]],
        *,
        interval: float = 3600.0,
        jitter: float = 300.0,
        retry_initial: float = 1.0,
        retry_max: float = 300.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        scope: str = "UID2",
        early_interval: float = EARLY_REFRESH_INTERVAL_S,
        stamp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.snapshot: KeySet | None = None
        self.scope = scope
        self._early_interval = early_interval
        stamp_name = f"uid2-early-refresh-{scope.lower()}.json"
        self._stamp = None if stamp_dir is None else Path(stamp_dir) / stamp_name
        self._early_not_before = float("-inf")
        self._early_key_id: int | None = None
        self._early_wake = asyncio.Event()
        self._early_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshing = asyncio.Lock()  # a scheduled and an early fetch never overlap
        self.early_refresh_count = 0
        self._fetch = fetch
        self._interval, self._jitter = interval, jitter
        self._retry_initial, self._retry_max = retry_initial, retry_max
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._on_close = on_close
        self._task: asyncio.Task[None] | None = None
        self.refresh_count = 0
        self.failure_count = 0
        self.consecutive_failures = 0
        self.last_refresh: float | None = None
        self.last_error: str | None = None
        self.next_refresh: float | None = None

    @classmethod
    def from_settings(
        cls,
        settings: UID2Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        stamp_dir: str | os.PathLike[str] | None = None,
    ) -> KeyRefresher:
        """A refresher that owns an ``OperatorClient`` built from settings, closed by ``stop()``."""
        client = OperatorClient(
            settings.base_url,
            settings.api_key,
            settings.load_secret(),
            timeout=settings.timeout,
            total_timeout=settings.total_timeout_seconds,
            transport=transport,
        )
        return cls(
            lambda: client.fetch_keys(settings.client_type),
            interval=settings.refresh_interval_seconds,
            jitter=settings.refresh_jitter_seconds,
            retry_initial=settings.retry_initial_seconds,
            retry_max=settings.retry_max_seconds,
            on_close=client.aclose,
            scope=settings.identity_scope.name,
            stamp_dir=stamp_dir,
        )

    async def refresh_now(self) -> bool:
        """Fetch once; swap the snapshot on success, keep the old one on failure."""
        async with self._refreshing:
            return await self._refresh()

    async def _refresh(self) -> bool:
        try:
            keys = await self._fetch()
        except Exception as exc:  # noqa: BLE001 -- I/O and protocol errors; a bug here must not stop refreshing
            self.failure_count += 1
            self.consecutive_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "uid2 key refresh failed (%d in a row): %s", self.consecutive_failures, self.last_error
            )
            return False
        self.snapshot = keys.bind_missing_key_hook(self.request_early_refresh)
        self.refresh_count += 1
        self.consecutive_failures = 0
        self.last_refresh = self._clock()
        self.last_error = None
        logger.info("uid2 keys refreshed: %d keys, newest expiry %s", len(keys.keys), keys.newest_expiry)
        return True

    def delay_after(self, success: bool) -> float:
        """Seconds to the next attempt: interval +- jitter, or capped exponential backoff."""
        if success:
            return max(1.0, self._interval + self._rng.uniform(-self._jitter, self._jitter))
        ceiling = min(
            self._retry_max, self._interval, self._retry_initial * 2 ** (self.consecutive_failures - 1)
        )
        return max(self._retry_initial / 2, self._rng.uniform(ceiling / 2, ceiling))

    def _schedule(self, success: bool) -> float:
        delay = self.delay_after(success)
        self.next_refresh = self._clock() + delay
        return delay

    async def _scheduled(self, delay: float) -> None:
        while True:
            await self._sleep(delay)
            delay = self._schedule(await self.refresh_now())

    def request_early_refresh(self, key_id: int) -> None:
        """A token named ``key_id``, which the current set lacks. Called on the request path: a
        time compare, and at most once per interval a thread-safe wake-up of the background task."""
        now = self._clock()
        loop = self._loop
        if now < self._early_not_before or loop is None:
            return
        self._early_not_before = now + self._early_interval
        self._early_key_id = key_id
        loop.call_soon_threadsafe(self._early_wake.set)

    async def _early_loop(self) -> None:
        while True:
            await self._early_wake.wait()
            self._early_wake.clear()
            key_id, snapshot = self._early_key_id, self.snapshot
            if key_id is None or (snapshot is not None and key_id in snapshot.keys):
                continue  # a scheduled refresh brought it meanwhile
            if self._sibling_fetched_without(key_id):
                EARLY_REFRESHES.labels(self.scope, "skipped").inc()
                continue
            ok = await self.refresh_now()
            self.early_refresh_count += 1
            EARLY_REFRESHES.labels(self.scope, "refreshed" if ok else "failed").inc()
            if ok and self.snapshot is not None:
                self._write_stamp(self.snapshot)
                found = key_id in self.snapshot.keys
                logger.info("uid2 early key refresh for unknown key id %d: %s", key_id,
                            "now known" if found else "still unknown (not ours, or not yet published)")

    def _sibling_fetched_without(self, key_id: int) -> bool:
        """Whether any worker fetched early within the interval and did not get ``key_id``."""
        if self._stamp is None:
            return False
        try:
            stamp = orjson.loads(self._stamp.read_bytes())
            recent = self._clock() - float(stamp["at"]) < self._early_interval
            return recent and key_id not in set(stamp["key_ids"])
        except (OSError, ValueError, KeyError, TypeError):
            return False  # no stamp, or a torn one: fetch (bounded by the per-worker interval)

    def _write_stamp(self, keys: KeySet) -> None:
        if self._stamp is None:
            return
        body = orjson.dumps({"at": self._clock(), "key_ids": sorted(keys.keys)})  # ids only, never secrets
        tmp = self._stamp.with_name(f".{self._stamp.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(body)
            os.replace(tmp, self._stamp)  # readers see the old stamp or the new one, never half
        except OSError as exc:
            logger.warning("uid2 early-refresh stamp %s not written: %s", self._stamp, exc)

    async def start(self) -> None:
        """Load once (bounded by the client's timeouts), then refresh in the background.

        A failed first load does not stop the server: readiness reports NOT_INITIALIZED and the
        loop retries with backoff.
        """
        if self._task is not None:
            return
        success = await self.refresh_now()
        self._task = asyncio.create_task(self._scheduled(self._schedule(success)), name="uid2-key-refresh")
        self._early_task = asyncio.create_task(self._early_loop(), name="uid2-key-refresh-early")
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None
        tasks, self._task, self._early_task = (self._task, self._early_task), None, None
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._on_close is not None:
            await self._on_close()
        self.next_refresh = None

    def readiness(self, now: float | None = None) -> Readiness:
        if self.snapshot is None:
            return Readiness.NOT_INITIALIZED
        if not self.snapshot.is_valid(self._clock() if now is None else now):
            return Readiness.KEYS_NOT_SYNCED
        return Readiness.READY

    def ops_state(self, now: float | None = None) -> dict[str, Any]:
        """Plain-dict state for a health or admin endpoint; contains no secret."""
        snapshot = self.snapshot
        return {
            "state": self.readiness(now).value,
            "count": 0 if snapshot is None else len(snapshot.keys),
            "last_refresh": self.last_refresh,
            "next_refresh": self.next_refresh,
            "newest_expiry": None if snapshot is None else snapshot.newest_expiry,
            "identity_scope": None if snapshot is None else snapshot.identity_scope.name,
            "refresh_count": self.refresh_count,
            "failure_count": self.failure_count,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
        }
