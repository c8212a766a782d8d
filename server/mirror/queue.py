"""The hot-path seam: ``Mirror.offer`` appends to a list; a task moves the list to the outbox.

``/rtd`` must not slow down when Xandr is slow or down, so ``offer`` does no I/O: it turns
(user, segment) pairs into seg_blocks, drops those :mod:`dedup` says Xandr still holds, and
appends the rest to an in-memory list (a few µs per pair). Every ``flush_interval`` (≤ 100 ms) a
background task swaps the list out and writes it to the SQLite outbox in one transaction, in a
thread so the event loop never waits for the disk.

**Loss window.** An intent is durable once its flush commits. A ``kill -9`` (or OOM kill, power
loss) of a worker loses the intents offered in the last ``flush_interval`` — at most 100 ms of
them — plus the one transaction being written. A graceful stop (``await mirror.stop()`` in the
lifespan, after uvicorn has drained connections) flushes everything. If the outbox cannot be
written, the list is kept up to ``max_buffer`` intents and further offers are dropped and counted
(``segserver_mirror_enqueued_total{result="dropped_full"}``) rather than growing without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from segments.taxonomy import Segment, XandrMapping
from server.metrics import MIRROR_ENQUEUED
from server.mirror import limits
from server.mirror.client import XandrClient
from server.mirror.dedup import Dedup
from server.mirror.outbox import Outbox, Row
from server.mirror.reconcile import Reconciler
from server.mirror.sender import Sender
from server.mirror.settings import MirrorSettings
from server.mirror.types import Clock, SegBlock, User

if TYPE_CHECKING:  # imported at start() only with [cluster] on: a single node never loads redis-py
    from server.cluster.settings import ClusterSettings
    from server.cluster.stream_forward import ClusterMirror

log = structlog.get_logger("server.mirror")

_QUEUED = MIRROR_ENQUEUED.labels(result="queued")
_DUPLICATE = MIRROR_ENQUEUED.labels(result="duplicate")
_DROPPED = MIRROR_ENQUEUED.labels(result="dropped_full")
_INVALID = MIRROR_ENQUEUED.labels(result="invalid")
_FLUSHED = MIRROR_ENQUEUED.labels(result="flushed")


def block_for(mapping: XandrMapping, *, remove: bool = False) -> SegBlock:
    return SegBlock(seg_id=mapping.seg_id, seg_code=mapping.seg_code, member_id=mapping.member_id,
                    value=mapping.value, expiration=limits.EXPIRE_REMOVE if remove else mapping.expiration)


def intent_rows(users: Sequence[User], segments: Sequence[Segment], *, remove: bool = False) -> list[Row]:
    """Outbox rows for users × Xandr-mapped segments; for jobs that write the outbox directly."""
    blocks = [block_for(s.xandr, remove=remove) for s in segments if s.xandr is not None]
    return [(uid, domain, b) for uid, domain in users if _valid_user(uid, domain) for b in blocks]


def _valid_user(user_id: str, domain: str | None) -> bool:
    # Xandr would answer "'user_id' is required and cannot be empty" / reject an unknown domain.
    return bool(user_id) and domain in limits.DOMAINS


class Mirror:
    """Owns the buffer, the flusher task and (optionally) the embedded sender of one process.

    With ``cluster`` (``[cluster] enabled``) the outbox is still written the same way, and a
    forwarder moves it into the engine's stream, which one sender across all nodes drains
    (:mod:`server.cluster.stream_forward`).
    """

    def __init__(self, settings: MirrorSettings, *, outbox: Outbox | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Clock = time.time,
                 monotonic: Clock = time.monotonic, cluster: ClusterSettings | None = None) -> None:
        self.settings = settings
        self.cluster = cluster
        self.shared: ClusterMirror | None = None
        self._outbox = outbox
        self._transport = transport
        self._clock = clock
        self._dedup = Dedup(settings.dedup_fraction, settings.dedup_max_entries,
                            settings.dedup_never_expiring_seconds, monotonic)
        self._buffer: list[Row] = []
        self._blocks: dict[XandrMapping, SegBlock] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._sender: Sender | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._flush_lock = asyncio.Lock()

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("Mirror.start() has not run")
        return self._outbox

    # -- hot path ------------------------------------------------------------------------------
    def offer(self, users: Sequence[User], segments: Sequence[Segment]) -> None:
        """Queue adds for users × Xandr-mapped segments. Never blocks, never raises for data."""
        if not self.settings.enabled or not users:
            return
        buf = self._buffer
        for seg in segments:
            mapping = seg.xandr
            if mapping is None:
                continue
            block = self._blocks.get(mapping)
            if block is None:
                if len(self._blocks) > 100_000:
                    self._blocks.clear()
                block = self._blocks[mapping] = block_for(mapping)
            for uid, domain in users:
                if not _valid_user(uid, domain):
                    _INVALID.inc()
                elif not self._dedup.should_send(uid, domain, block):
                    _DUPLICATE.inc()
                elif len(buf) >= self.settings.max_buffer:
                    _DROPPED.inc()
                else:
                    buf.append((uid, domain, block))
                    _QUEUED.inc()

    def remove(self, users: Sequence[User], segments: Sequence[Segment]) -> None:
        """Queue removals (``expiration: -1``): deleted, expired or opted-out memberships.

        Removals bypass dedup and the ``enabled`` switch's silence is kept: when the mirror is
        disabled nothing was added, so nothing needs removing.
        """
        if not self.settings.enabled:
            return
        for row in intent_rows(users, segments, remove=True):
            self._dedup.forget(row[0], row[1], row[2])
            if len(self._buffer) >= self.settings.max_buffer:
                _DROPPED.inc()
            else:
                self._buffer.append(row)
                _QUEUED.inc()

    # -- lifespan ------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.settings.enabled:
            return
        if self._outbox is None:
            self._outbox = await asyncio.to_thread(Outbox, self.settings.data_dir, self._clock)
        self._stopping.clear()
        self._flusher = asyncio.create_task(self._flush_loop(), name="mirror-flush")
        if self.cluster is not None:
            from server.cluster.stream_forward import ClusterMirror

            self.shared = await ClusterMirror.start(self.settings, self.cluster, self._outbox,
                                                    transport=self._transport, clock=self._clock)
        elif self.settings.embedded_sender:
            self._sender = make_sender(self.settings, self._outbox, self._transport, self._clock)
            self._sender_task = asyncio.create_task(self._sender.run(), name="mirror-sender")
        log.info("mirror_started", embedded_sender=self.settings.embedded_sender,
                 outbox=str(self._outbox.path), flush_interval=self.settings.flush_interval)

    async def stop(self, sender_grace: float = 5.0) -> None:
        """uvicorn's order: the server has stopped taking requests; flush, then stop the sender."""
        if not self.settings.enabled or self._flusher is None:
            return
        self._stopping.set()
        await self._flusher
        self._flusher = None
        await self.flush()  # anything offered while the loop was exiting
        if self.shared is not None:
            await self.shared.stop(sender_grace)
            self.shared = None
        if self._sender is not None and self._sender_task is not None:
            self._sender.stop()
            try:
                await asyncio.wait_for(self._sender_task, sender_grace)
            except TimeoutError:
                log.warning("mirror_sender_cancelled")  # its batch stays in the outbox
            self._sender_task = None
            await self._sender.aclose()
            self._sender = None
        log.info("mirror_stopped")

    async def flush(self) -> int:
        """Write the buffer to the outbox now; on failure the rows go back to the buffer's head."""
        async with self._flush_lock:
            if not self._buffer or self._outbox is None:
                return 0
            rows, self._buffer = self._buffer, []
            try:
                n = await asyncio.to_thread(self._outbox.add_many, rows)
            except Exception:
                log.exception("mirror_flush_failed", intents=len(rows))
                keep = max(0, self.settings.max_buffer - len(self._buffer))
                _DROPPED.inc(max(0, len(rows) - keep))
                self._buffer[:0] = rows[:keep]
                return 0
            _FLUSHED.inc(n)
            if self.shared is not None:
                self.shared.forwarder.wake()  # into the engine's stream now, not at the next poll
            return n

    def cluster_readiness(self) -> tuple[bool, str, bool] | None:
        """(ok, detail, degraded) of the forwarder with ``[cluster]`` on; ``None`` otherwise."""
        if self.cluster is None:
            return None
        if self.shared is None:
            return True, "mirror starting", True
        return self.shared.readiness()

    def cluster_status(self) -> dict[str, Any] | None:
        """The shared stream (length, pending per consumer, lease holder, dead letters, duplicates)."""
        return None if self.shared is None else self.shared.status()

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval
        loop = asyncio.get_running_loop()
        next_at = loop.time() + interval
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, next_at - loop.time()))
            next_at = loop.time() + interval
            await self.flush()


def make_sender(settings: MirrorSettings, outbox: Outbox, transport: httpx.AsyncBaseTransport | None = None,
                clock: Clock = time.time) -> Sender:
    """The sender wired to a real (or, in tests, fake) Xandr; shared by the app and ``mirror run``."""
    http = XandrClient.make_http(settings, transport)
    client = XandrClient(settings, http, clock=clock, auth_log=outbox)
    reconciler = Reconciler(client, outbox, settings.member_id, settings.reconcile_interval, clock)
    return Sender(settings, outbox, client, clock=clock, reconciler=reconciler)
