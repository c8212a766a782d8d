"""The drain loop: lease → fetch → batch → rate-limit → POST → settle, at least once.

Rules, in the order they apply:

* **One active sender.** Each loop renews a lease (a row in the outbox, or a key in the engine
  with ``[cluster]``); a sender without it idles. A killed sender stops renewing, and another takes
  over after ``lease_seconds``. Where intents wait is the :class:`~server.mirror.source.IntentSource`.
* **Delete only after success.** Intents leave the outbox when Xandr answered ``status: "OK"``
  for their request, or move to ``dead_letters`` when a warning names them. A crash at any point
  leaves them pending, so they are sent again (adds are idempotent; duplicates are the price).
* **Rate limits** (leaky buckets: aiolimiter on one node, one Lua script in the engine shared by
  every node with ``[cluster]``): ≤ ``posts_per_second`` requests and ≤ ``users_per_second`` users
  per second; batches are cut to ≤ users_per_second users.
* **Retries.** Timeouts, dropped connections, 5xx and 429 back off exponentially with full
  jitter, capped at ``backoff_max``, and never shorter than ``Retry-After``. The loop is
  hand-rolled rather than stamina's because it must never give up (the outbox is the durable
  retry queue), must keep renewing the lease while it waits, and must stop promptly on shutdown.
* **Warnings** are classified by :mod:`server.mirror.warnings`: invalid entities are
  dead-lettered with the reason; users cut by the 1000-user limit stay pending and are resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from server.metrics import MIRROR_DEAD, MIRROR_OLDEST_AGE, MIRROR_OUTBOX_DEPTH, MIRROR_RETRIED, MIRROR_SENT
from server.mirror import limits
from server.mirror.batcher import Batch, build_batches, split_batch
from server.mirror.client import RtSegmentResult, XandrClient
from server.mirror.errors import AuthFailed, PayloadTooLarge, Rejected, RetryableError
from server.mirror.outbox import Outbox
from server.mirror.reconcile import Reconciler
from server.mirror.settings import MirrorSettings
from server.mirror.source import IntentSource, LocalSource
from server.mirror.types import Clock
from server.mirror.warnings import Action, classify

log = structlog.get_logger("server.mirror.sender")

Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(attempt: int, initial: float, cap: float, retry_after: float | None,
                  rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff (AWS architecture blog), floored by ``Retry-After``."""
    jittered = rng() * min(cap, initial * 2.0 ** max(0, attempt - 1))
    return max(jittered, retry_after) if retry_after is not None else jittered


class Sender:
    def __init__(self, settings: MirrorSettings, source: Outbox | IntentSource, client: XandrClient, *,
                 clock: Clock = time.time, sleep: Sleep = asyncio.sleep,
                 rng: Callable[[], float] = random.random, holder: str | None = None,
                 reconciler: Reconciler | None = None) -> None:
        self._s = settings
        self.source: IntentSource = LocalSource(source, settings) if isinstance(source, Outbox) else source
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._max_users = max(1, min(limits.USERS_PER_REQUEST, int(settings.users_per_second)))
        self._stop = asyncio.Event()
        self._lease_renewed = 0.0
        self._gauges_at = 0.0
        self._reconciler = reconciler

    def stop(self) -> None:
        self._stop.set()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def run(self) -> None:
        """Drain until :meth:`stop`; never raises for Xandr trouble (it is logged and retried)."""
        leased = False
        try:
            while not self._stop.is_set():
                if not await self._renew_lease(force=True):
                    leased = False
                    await self._pause(min(1.0, self._s.lease_seconds / 3))
                    continue
                if not leased:
                    # A new holder cannot know what its predecessor (maybe just killed) sent in the
                    # last second; one bucket period of silence keeps the member under its per-second
                    # limits across a takeover.
                    leased = True
                    await self._pause(1.0)
                    continue
                try:
                    sent = await self.drain_once()
                    if self._reconciler is not None:
                        await self._reconciler.maybe_run()
                except self.source.unavailable as exc:  # the engine: back soon, or the lease says so
                    log.warning("mirror_queue_unavailable", error=str(exc) or type(exc).__name__)
                    sent = 0
                    await self._pause(min(1.0, self._s.backoff_max))
                except Exception:  # a bug or a disk error: keep the process alive, slow down
                    log.exception("mirror_drain_failed")
                    sent = 0
                    await self._pause(self._s.backoff_max)
                if sent == 0:
                    await self._pause(self._s.idle_poll)
        finally:
            with contextlib.suppress(*self.source.unavailable):
                await self.source.release_lease(self.holder)

    async def drain_once(self) -> int:
        """Send what the queue holds now (one fetch); returns intents settled."""
        intents = await self.source.fetch(self._s.fetch_size)
        settled = 0
        if intents:
            for batch in build_batches(intents, max_users=self._max_users):
                done = await self._send(batch)
                if done is None:
                    break  # stopping, or Xandr unusable: the rest stays pending
                settled += done
        await self._update_gauges()
        return settled

    async def _send(self, batch: Batch) -> int | None:
        if batch.oversize:
            await self._dead({"payload_too_large": batch.ids}, "single user+segment exceeds 1 MB")
            return len(batch.ids)
        attempt = 0
        while not self._stop.is_set():
            try:
                # Authenticate *before* taking rate budget: an auth round trip between the limiter
                # and the POST would bunch this request up against the next one at Xandr's end.
                await self._client.token()
                await self.source.acquire_rate(batch.users)
                result = await self._client.post_rt_segment(batch.body)
            except RetryableError as exc:
                attempt += 1
                MIRROR_RETRIED.labels(reason=exc.reason).inc()
                delay = backoff_delay(attempt, self._s.backoff_initial, self._s.backoff_max, exc.retry_after,
                                      self._rng)
                log.warning("mirror_retry", reason=exc.reason, detail=str(exc), attempt=attempt,
                            delay=round(delay, 3), users=batch.users)
                await self._pause(delay)
                continue
            except PayloadTooLarge:
                # Our 1 MB guard disagreed with Xandr's: send each half; a lone user is dead.
                if batch.users == 1:
                    await self._dead({"payload_too_large": batch.ids}, "HTTP 413")
                    return len(batch.ids)
                total = 0
                for sub in split_batch(batch):
                    done = await self._send(sub)
                    if done is None:
                        return None
                    total += done
                return total
            except AuthFailed as exc:
                MIRROR_RETRIED.labels(reason="auth_failed").inc()
                log.error("mirror_auth_failed", detail=str(exc))  # the exception never holds secrets
                await self._pause(self._s.backoff_max)
                return None
            except Rejected as exc:
                await self._dead({f"rejected_{exc.reason}": batch.ids}, str(exc))
                return len(batch.ids)
            return await self._settle(batch, result)
        return None

    async def _settle(self, batch: Batch, result: RtSegmentResult) -> int:
        dead: dict[int, str] = {}
        messages: dict[str, str] = {}
        cut_users: set[str] = set()
        summary = False
        for w in result.warnings:
            rule = classify(w.message)
            if rule.action is Action.SUMMARY:
                summary = True
                continue
            if rule.action is Action.RESEND:
                cut_users.add(str(w.entity.get("user_id", "")))
                continue
            messages.setdefault(rule.reason, w.message)
            for i in _ids_for_entity(batch, w.entity):
                dead.setdefault(i, rule.reason)
            if rule.reason == "unknown_warning":
                log.warning("mirror_unknown_warning", message=w.message)
        pending = [i for e in batch.entries if e.user_id in cut_users for ids in e.ids for i in ids]
        keep = set(pending)
        if summary:  # "No valid rt_segment in request.": nothing in it was applied
            for i in batch.ids:
                if i not in keep:
                    dead.setdefault(i, "no_valid_rt_segment")
            messages.setdefault("no_valid_rt_segment", "No valid rt_segment in request.")
        by_reason: dict[str, list[int]] = {}
        for i, reason in dead.items():
            if i not in keep:
                by_reason.setdefault(reason, []).append(i)
        await self._dead(by_reason, messages)
        done = [i for i in batch.ids if i not in keep and i not in dead]
        dead_users = {e.user_id for e in batch.entries if all(i in dead for ids in e.ids for i in ids)}
        delivered = sum(1 for e in batch.entries
                        if e.user_id not in cut_users and e.user_id not in dead_users)
        await self.source.delete(done, delivered)
        if delivered:
            MIRROR_SENT.inc(delivered)
        if cut_users:
            MIRROR_RETRIED.labels(reason="too_many_users").inc()
        return len(done) + len(dead)

    async def _dead(self, by_reason: Mapping[str, list[int]], message: str | Mapping[str, str]) -> None:
        for reason, ids in by_reason.items():
            if not ids:
                continue
            text = message if isinstance(message, str) else message.get(reason, "")
            await self.source.dead_letter(ids, reason, text)
            MIRROR_DEAD.labels(reason=reason).inc(len(ids))
            log.warning("mirror_dead_letter", reason=reason, intents=len(ids))

    async def _pause(self, seconds: float) -> None:
        """Sleep in slices, renewing the lease, and return early when stopping."""
        left = seconds
        while left > 0 and not self._stop.is_set():
            step = min(left, self._s.lease_seconds / 3, 0.25)
            await self._sleep(step)
            left -= step
            await self._renew_lease()

    async def _renew_lease(self, force: bool = False) -> bool:
        now = self._clock()
        if not force and now - self._lease_renewed < self._s.lease_seconds / 3:
            return True
        try:
            ok = await self.source.take_lease(self.holder, self._s.lease_seconds)
        except self.source.unavailable:
            ok = False  # the engine is away: after lease_seconds someone else may hold it
        if ok:
            self._lease_renewed = now
        return ok

    async def _update_gauges(self) -> None:
        now = self._clock()
        if now - self._gauges_at < 1.0:
            return
        self._gauges_at = now
        depth, oldest_age = await self.source.gauges()
        MIRROR_OUTBOX_DEPTH.set(depth)
        MIRROR_OLDEST_AGE.set(oldest_age or 0.0)


def _ids_for_entity(batch: Batch, entity: Mapping[str, Any]) -> list[int]:
    """Which intents a warning's ``entity`` names: a user (with or without blocks) or one block."""
    if "rt_segment" in entity:
        return []
    if "user_id" in entity:
        uid = str(entity.get("user_id") or "")
        return [i for e in batch.entries if e.user_id == uid for ids in e.ids for i in ids]
    if "seg_block" in entity:  # no user_id: the empty-user_id warning
        return [i for e in batch.entries if not e.user_id for ids in e.ids for i in ids]
    key = (entity.get("seg_id"), entity.get("seg_code"), entity.get("member_id"))
    return [i for e in batch.entries for b, ids in zip(e.blocks, e.ids, strict=True)
            if b.key == key for i in ids]

