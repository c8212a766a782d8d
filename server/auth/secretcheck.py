"""Where client-secret checks run: a small thread pool, one lane per source address.

A secret check is scrypt — tens of milliseconds of CPU and 32 MiB of memory by design. Run on
the event loop it would stall every other request of the worker; run in Starlette's shared
thread pool (40 threads) a flood of wrong secrets from one address would queue ahead of, and
compete for the cores with, a legitimate client's single attempt (the probe in issue 25 item 8
saw the right credentials wait 2.3–2.7 s). So:

* checks run in threads (``cryptography`` releases the GIL inside scrypt), at most ``threads`` at
  once per worker — bounded CPU and memory whatever arrives;
* each source address has its own *lane*: its checks run one at a time, in arrival order, and
  at most ``queued_per_address`` may wait. One address therefore holds at most one of the pool's
  threads, and another address's attempt starts at once (or after one check, if every thread is
  busy with different addresses); an address that queues more is told to back off (429).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


class LaneFull(Exception):
    """Too many secret checks from this address are already waiting: answer 429, do no work."""


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # running + waiting


class SecretChecks:
    """Run blocking secret checks off the event loop, bounded in total and fair between addresses."""

    def __init__(self, *, threads: int, queued_per_address: int) -> None:
        self.threads = threads
        self.queued_per_address = queued_per_address
        self._lanes: dict[str, _Lane] = {}  # only addresses with a check running or waiting
        self._limiter: CapacityLimiter | None = None  # made on first use: it belongs to the running loop

    async def run(self, address: str, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in the pool, after the address's earlier checks; :class:`LaneFull` if too
        many wait."""
        lane = self._lanes.get(address)
        if lane is None:
            lane = self._lanes[address] = _Lane()
        elif lane.users > self.queued_per_address:  # one running plus queued_per_address waiting
            raise LaneFull(address)
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.threads)
        lane.users += 1
        try:
            async with lane.lock:
                return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[address]

    def pending(self, address: str) -> int:
        """Checks from ``address`` running or waiting (for tests and status)."""
        lane = self._lanes.get(address)
        return 0 if lane is None else lane.users
