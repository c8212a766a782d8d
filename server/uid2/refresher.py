"""Background key refresh: once at start, then hourly with jitter, backing off on failure.

The refresher is the decryptor's key source: ``snapshot`` is replaced by one assignment after a
successful fetch, so readers never see a half-built key set, and on any failure the last good
snapshot keeps serving. Backoff is plain asyncio (exponential, full jitter, capped) rather than a
retry library, because the schedule must survive failures forever, be visible to ops
(``next_refresh``) and be driven by an injected clock and sleep in tests.

Readiness: NOT_INITIALIZED until the first successful load, KEYS_NOT_SYNCED once every key in the
snapshot has expired (e.g. the operator has been unreachable for days), READY otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .keys import KeySet
from .operator import OperatorClient
from .settings import UID2Settings

__all__ = ["KeyRefresher", "Readiness"]

logger = logging.getLogger("server.uid2.refresher")


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
    ) -> None:
        self.snapshot: KeySet | None = None
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
        cls, settings: UID2Settings, *, transport: httpx.AsyncBaseTransport | None = None
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
        )

    async def refresh_now(self) -> bool:
        """Fetch once; swap the snapshot on success, keep the old one on failure."""
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
        self.snapshot = keys
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

    async def _loop(self, delay: float) -> None:
        while True:
            await self._sleep(delay)
            delay = self._schedule(await self.refresh_now())

    async def start(self) -> None:
        """Load once (bounded by the client's timeouts), then refresh in the background.

        A failed first load does not stop the server: readiness reports NOT_INITIALIZED and the
        loop retries with backoff.
        """
        if self._task is not None:
            return
        success = await self.refresh_now()
        self._task = asyncio.create_task(self._loop(self._schedule(success)), name="uid2-key-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
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
