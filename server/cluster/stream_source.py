"""The sender's queue with ``[cluster]``: the member's stream, its lease and its shared rate budget.

An :class:`~server.mirror.source.IntentSource`, so the drain loop is the single-node one. Each
``fetch`` is one pipelined round trip of three reads, in this order:

1. ``XREADGROUP … 0``: this consumer's own pending entries (read before, never settled — a batch
   the loop gave up on while stopping, or whose XACK failed);
2. ``XAUTOCLAIM`` (at most once a second): entries idle ≥ ``lease_seconds`` on *another* consumer —
   a sender that died holding them. They may have reached Xandr already, so each is counted as a
   possible duplicate (``segserver_mirror_duplicates_total`` and the engine's counter);
3. ``XREADGROUP … >``: entries never delivered.

Each read asks for up to ``fetch_size`` entries, so one drain step handles at most three times that.

Settling (XACK + XDEL) that fails because the engine went away is retried before the next fetch,
so an engine blip after Xandr's OK costs no duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Final

from prometheus_client import Counter, Gauge

from server.cluster.engine import EngineError
from server.cluster.lease import Lease
from server.cluster.stream import GROUP, StreamOutbox, claimed_entries, decode, read_entries
from server.cluster.stream_rate import SharedRate
from server.mirror.outbox import Outbox
from server.mirror.settings import MirrorSettings
from server.mirror.types import Intent

MIRROR_DUPLICATES: Final = Counter(
    "segserver_mirror_duplicates_total",
    "Intents sent again after the sender holding them died (at most this many duplicates at Xandr)")
MIRROR_STREAM_LENGTH: Final = Gauge(
    "segserver_mirror_stream_length", "Intents in the engine's mirror stream (cluster mode)",
    multiprocess_mode="livemax")
#: How often a sender looks for a dead sender's entries (XAUTOCLAIM).
CLAIM_EVERY_S: Final = 1.0


class StreamSource:
    """One sender instance's view of the member's stream; the consumer name is the lease holder."""

    unavailable: tuple[type[BaseException], ...] = EngineError

    def __init__(self, stream: StreamOutbox, rate: SharedRate, settings: MirrorSettings,
                 local: Outbox | None = None) -> None:
        self.stream = stream
        self.rate = rate
        self._settings = settings
        self._local = local  # only for the gauges: this node's backlog
        self._lease: Lease | None = None
        self._consumer = ""
        self._stream_ids: dict[int, str] = {}  # Intent.id of the current fetch → stream id
        self._unacked: list[str] = []
        self._unsent = 0  # users delivered, counted with the next XACK
        self._claim_cursor = "0-0"
        self._claim_at = 0.0
        self.duplicates = 0

    # -- lease ---------------------------------------------------------------------------------------
    async def take_lease(self, holder: str, ttl: float) -> bool:
        if self._lease is None or self._lease.owner != holder:
            self._lease = Lease(self.stream.engine, self.stream.keys.prefix, self.stream.keys.lease_name,
                                ttl_s=ttl, owner=holder)
            self._consumer = holder
        if await self._lease.renew():
            return True
        if not await self._lease.acquire():
            return False
        await self.stream.prune_consumers(keep=holder)  # a takeover: forget long-gone senders
        return True

    async def release_lease(self, holder: str) -> None:
        if self._lease is not None and self._lease.owner == holder:
            await self._lease.release()

    # -- intents -------------------------------------------------------------------------------------
    async def fetch(self, limit: int) -> list[Intent]:
        await self._settle_unacked()
        s = self.stream
        now = time.monotonic()
        claiming = now >= self._claim_at
        min_idle_ms = int(self._settings.lease_seconds * 1000)
        try:
            async with s.engine.pipeline(transaction=False) as pipe:
                pipe.xreadgroup(GROUP, self._consumer, {s.keys.stream: "0"}, count=limit)
                if claiming:
                    pipe.xautoclaim(s.keys.stream, GROUP, self._consumer, min_idle_ms,
                                    start_id=self._claim_cursor, count=limit)
                pipe.xreadgroup(GROUP, self._consumer, {s.keys.stream: ">"}, count=limit)
                replies = await pipe.execute()
        except EngineError as exc:
            if "NOGROUP" in str(exc):  # nothing forwarded yet, or the engine lost its data
                await s.ensure_group()
                return []
            raise
        own, fresh = read_entries(replies[0]), read_entries(replies[-1])
        claimed: list[tuple[str, str]] = []
        if claiming:
            cursor, claimed = claimed_entries(replies[1])
            mine = {sid for sid, _ in own}
            claimed = [entry for entry in claimed if entry[0] not in mine]  # our own, idle while we retried
            self._claim_cursor = cursor
            if cursor == "0-0":
                self._claim_at = now + CLAIM_EVERY_S
        if claimed:
            self.duplicates += len(claimed)
            MIRROR_DUPLICATES.inc(len(claimed))
            await s.ack([], duplicates=len(claimed))
        self._stream_ids = {}
        intents = []
        for n, (sid, payload) in enumerate(own + claimed + fresh, start=1):
            self._stream_ids[n] = sid
            intents.append(decode(n, payload))
        return intents

    async def delete(self, ids: Sequence[int], users_delivered: int = 0) -> None:
        self._unacked += [self._stream_ids[i] for i in ids]
        self._unsent += users_delivered
        await self._settle_unacked()

    async def dead_letter(self, ids: Sequence[int], reason: str, message: str) -> None:
        await self.stream.dead_letter([self._stream_ids[i] for i in ids], reason, message)

    async def acquire_rate(self, users: int) -> None:
        await self.rate.acquire(users)

    async def gauges(self) -> tuple[int, float | None]:
        status = await self.stream.status()
        MIRROR_STREAM_LENGTH.set(status.stream_length)
        if self._local is None:
            return status.stream_length, None
        stats = await asyncio.to_thread(self._local.stats)
        return stats.depth, stats.oldest_age

    async def _settle_unacked(self) -> None:
        if not self._unacked and not self._unsent:
            return
        ids, users, self._unacked, self._unsent = self._unacked, self._unsent, [], 0
        try:
            await self.stream.ack(ids, users_sent=users)
        except BaseException:  # settled at Xandr: acknowledge when the engine is back
            self._unacked, self._unsent = ids + self._unacked, users + self._unsent
            raise

