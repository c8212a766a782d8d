"""Counting failed client authentications, per (client id, source address) and per source address.

Why: a client secret check costs tens of milliseconds of scrypt, so unbounded guessing is both a
brute-force risk and a CPU-exhaustion lever. Once a key (client id or address) has ``max_failures``
failures, each less than ``window_s`` after the previous one, it is *blocked* until ``window_s``
passes without a new failure — and a blocked attempt is refused before any scrypt work. Keys always
include the source address: a count per client id alone would let anyone who knows a client id lock
that client out (issue 25 item 8). Counts live in a bounded ``cachetools.TTLCache`` per worker
process: memory stays flat under a flood of made-up client ids (old entries are evicted), and with
N workers the effective limit is up to N × ``max_failures`` — acceptable for a brute-force brake
and it needs no shared state on the token endpoint.
"""

from __future__ import annotations

import time

from cachetools import TTLCache

from server.auth.types import Clock


class FailureLimiter:
    """Failure counts with a sliding quiet-period reset."""

    def __init__(self, *, window_s: float, max_failures: int, maxsize: int = 10_000,
                 clock: Clock = time.time) -> None:
        self.window_s = window_s
        self.max_failures = max_failures
        self._counts: TTLCache[str, int] = TTLCache(maxsize=maxsize, ttl=window_s, timer=clock)

    def blocked(self, key: str) -> bool:
        """Whether ``key`` has used up its failures for now."""
        return self._counts.get(key, 0) >= self.max_failures

    def record_failure(self, key: str) -> bool:
        """Count one failure (re-setting the entry restarts its window, cachetools semantics);
        ``True`` exactly when this failure blocks ``key``, so the block is logged once, not per attempt."""
        count = self._counts[key] = self._counts.get(key, 0) + 1
        return count == self.max_failures

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful authentication by that client)."""
        self._counts.pop(key, None)
