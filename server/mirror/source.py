"""Where the sender's intents wait: the one seam between the drain loop and its queue.

The drain loop (:mod:`server.mirror.sender`) is the same on one node and on many; what differs is
where the pending intents live, who may drain them, and whose rate budget a POST spends:

==============  ==========================================  ============================================
                one node (:class:`LocalSource`)             ``[cluster]`` (``server.cluster.stream_source``)
==============  ==========================================  ============================================
pending         SQLite ``intents`` table                    a Redis Stream, read by a consumer group
lease           a row in the outbox                         a key in the engine, per Xandr member
rate budget     aiolimiter buckets in this process          a token bucket in the engine (one Lua script)
dead letters    SQLite ``dead_letters``                     a second stream + counts, in the engine
==============  ==========================================  ============================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiolimiter import AsyncLimiter

from server.mirror.outbox import Outbox
from server.mirror.settings import MirrorSettings
from server.mirror.types import Intent


class IntentSource(Protocol):
    """What the sender needs from a queue. ``ids`` are the :attr:`Intent.id` values ``fetch`` gave."""

    #: Exceptions meaning "the queue is unreachable right now": the sender pauses briefly and retries.
    unavailable: tuple[type[BaseException], ...]

    async def take_lease(self, holder: str, ttl: float) -> bool:
        """Take or renew the one-sender lease; ``False`` if another holder has it."""
        ...

    async def release_lease(self, holder: str) -> None: ...

    async def fetch(self, limit: int) -> list[Intent]:
        """Up to ``limit`` intents to send now; they stay pending until ``delete`` or ``dead_letter``."""
        ...

    async def delete(self, ids: Sequence[int], users_delivered: int = 0) -> None:
        """Xandr accepted them: they leave the queue (the at-least-once point), and the users they
        carried count as sent — in the same step, so a crash cannot split the two."""
        ...

    async def dead_letter(self, ids: Sequence[int], reason: str, message: str) -> None: ...

    async def acquire_rate(self, users: int) -> None:
        """Wait for budget for one POST carrying ``users`` users (posts/s and users/s ceilings)."""
        ...

    async def gauges(self) -> tuple[int, float | None]:
        """(pending intents, age of the oldest in seconds or ``None``) for the outbox gauges."""
        ...


class LocalSource:
    """The single-node queue: the SQLite outbox (calls run in a thread) and in-process rate limits."""

    unavailable: tuple[type[BaseException], ...] = ()

    def __init__(self, outbox: Outbox, settings: MirrorSettings) -> None:
        self.outbox = outbox
        self._settings = settings
        self._limiters: tuple[asyncio.AbstractEventLoop, AsyncLimiter, AsyncLimiter] | None = None

    async def take_lease(self, holder: str, ttl: float) -> bool:
        return await asyncio.to_thread(self.outbox.acquire_lease, holder, ttl)

    async def release_lease(self, holder: str) -> None:
        await asyncio.to_thread(self.outbox.release_lease, holder)

    async def fetch(self, limit: int) -> list[Intent]:
        return await asyncio.to_thread(self.outbox.fetch, limit)

    async def delete(self, ids: Sequence[int], users_delivered: int = 0) -> None:
        await asyncio.to_thread(self._settle, ids, users_delivered)

    def _settle(self, ids: Sequence[int], users_delivered: int) -> None:
        self.outbox.delete(ids)
        if users_delivered:
            self.outbox.record_sent(users_delivered)

    async def dead_letter(self, ids: Sequence[int], reason: str, message: str) -> None:
        await asyncio.to_thread(self.outbox.dead_letter, ids, reason, message)

    async def acquire_rate(self, users: int) -> None:
        posts, users_limiter = self.rate_limiters()
        await users_limiter.acquire(users)
        await posts.acquire()

    def rate_limiters(self) -> tuple[AsyncLimiter, AsyncLimiter]:
        """aiolimiter buckets are bound to one event loop; make them on first use in this loop."""
        loop = asyncio.get_running_loop()
        if self._limiters is None or self._limiters[0] is not loop:
            self._limiters = (loop, AsyncLimiter(self._settings.posts_per_second, 1.0),
                              AsyncLimiter(self._settings.users_per_second, 1.0))
        return self._limiters[1], self._limiters[2]

    async def gauges(self) -> tuple[int, float | None]:
        stats = await asyncio.to_thread(self.outbox.stats)
        return stats.depth, stats.oldest_age
