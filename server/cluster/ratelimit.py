"""``/oauth/token`` failed-authentication counts shared by every node (INCR + PEXPIRE, pipelined).

Why not ask the engine on every attempt: the endpoint's refusal of a blocked address must stay
cheap and must not fail open when the engine is down. So :class:`SharedFailureLimiter` keeps the
node's own :class:`~server.auth.ratelimit.FailureLimiter` (the single-node behaviour, unchanged,
and the fallback without the engine) and adds the *cluster* count it last heard for a key: every
failure is INCR'd in the engine (with the same sliding window: each failure re-arms the expiry)
and the total that comes back is remembered. A key is blocked when either count reaches the
limit. A worker that never saw a key lets one attempt through and then knows the cluster total,
so across W workers (all nodes) the ceiling is ``max_failures + W - 1`` per window, not ``W × max``.

Keys are ``key_prefix:oauth-fail:<kind>:<sha256>``: no raw client id or address in the engine, and
no hash tag (single-key commands; spreads over Redis Cluster slots).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from typing import Any, Final

import redis.asyncio as aioredis
from cachetools import TTLCache

from server.auth.ratelimit import FailureLimiter
from server.cluster.engine import EngineError

#: Engine calls in flight per limiter; beyond this, failures are counted locally only.
MAX_PENDING: Final = 256


class SharedFailureLimiter(FailureLimiter):
    """A :class:`FailureLimiter` whose counts also add up across nodes."""

    def __init__(self, local: FailureLimiter, engine: aioredis.Redis, prefix: str, kind: str) -> None:
        super().__init__(window_s=local.window_s, max_failures=local.max_failures, maxsize=1)
        self._local = local
        self._engine = engine
        self._prefix = f"{prefix}:oauth-fail:{kind}:"
        self._cluster: TTLCache[str, int] = TTLCache(maxsize=10_000, ttl=local.window_s)
        self._pending: set[asyncio.Task[None]] = set()
        self.engine_errors = 0

    def blocked(self, key: str) -> bool:
        return self._local.blocked(key) or self._cluster.get(key, 0) >= self.max_failures

    def record_failure(self, key: str) -> bool:
        self._spawn(self._count(key))
        return self._local.record_failure(key)

    def reset(self, key: str) -> None:
        self._local.reset(key)
        self._cluster.pop(key, None)
        self._spawn(self._forget(key))

    async def settle(self) -> None:
        """Wait for the engine calls in flight (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _engine_key(self, key: str) -> str:
        return self._prefix + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    async def _count(self, key: str) -> None:
        try:
            async with self._engine.pipeline(transaction=False) as pipe:
                pipe.incr(self._engine_key(key))
                pipe.pexpire(self._engine_key(key), int(self.window_s * 1000))
                total, _ = await pipe.execute()
        except EngineError:
            self.engine_errors += 1  # the local count still applies
            return
        self._cluster[key] = int(total)

    async def _forget(self, key: str) -> None:
        try:
            await self._engine.delete(self._engine_key(key))
        except EngineError:
            self.engine_errors += 1

    def _spawn(self, call: Coroutine[Any, Any, None]) -> None:
        if len(self._pending) >= MAX_PENDING:
            call.close()
            return
        task = asyncio.get_running_loop().create_task(call)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
