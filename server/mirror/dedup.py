"""Skip re-adding a (user, segment) that Xandr still holds for a good while, in bounded memory.

An add with ``expiration: E`` minutes keeps the user in the segment for E minutes after Xandr
reads it; re-sending it before a ``fraction`` of E has passed only spends rate limit (1000 users/s
per member). So a key is "fresh" for ``fraction × E`` after it is offered, and offers while fresh
are dropped. ``E = 0`` (never expire) and ``E = None`` (member default, unknown to us) are treated
as ``never_expiring_seconds`` so memberships are still re-asserted now and then.

Memory: a ``cachetools.TLRUCache`` with ``maxsize`` entries (LRU eviction past it, per-item
expiry); an evicted key only means one extra, idempotent add. The cache is per process: with N
workers a user may be re-added up to N times per window, which Xandr treats as the same add.
A removal forgets the key, so a later add goes out at once.
"""

from __future__ import annotations

import time
from collections.abc import Hashable

from cachetools import TLRUCache

from server.mirror.types import Clock, SegBlock


class Dedup:
    def __init__(self, fraction: float, maxsize: int, never_expiring_seconds: float,
                 clock: Clock = time.monotonic) -> None:
        self._fraction = fraction
        self._never = never_expiring_seconds
        # value = (seg value, fresh_for): a changed value is a different membership → send it
        self._cache: TLRUCache[Hashable, tuple[int | None, float]] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, entry, now: now + entry[1], timer=clock)

    def fresh_for(self, block: SegBlock) -> float:
        minutes = block.expiration
        if minutes is None or minutes == 0:
            return self._never * self._fraction
        return minutes * 60.0 * self._fraction

    def should_send(self, user_id: str, domain: str | None, block: SegBlock) -> bool:
        """True if this intent must go out; records adds so repeats inside the window are skipped."""
        key = (user_id, domain, block.key)
        if block.expiration is not None and block.expiration < 0:
            self._cache.pop(key, None)
            return True  # removals are rare and must never be swallowed
        entry = self._cache.get(key)
        if entry is not None and entry[0] == block.value:
            return False
        fresh = self.fresh_for(block)
        if fresh > 0:
            self._cache[key] = (block.value, fresh)
        return True

    def forget(self, user_id: str, domain: str | None, block: SegBlock) -> None:
        self._cache.pop((user_id, domain, block.key), None)

    def __len__(self) -> int:
        return len(self._cache)
