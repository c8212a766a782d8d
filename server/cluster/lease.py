"""A lease in the engine: at most one holder of a named job across every node, with expiry.

``SET key owner NX PX ttl`` takes it; the holder renews it every ``ttl / 3`` with a
compare-and-``PEXPIRE`` script and gives it back with a compare-and-``DEL`` script, so a holder
whose lease already passed to someone else can neither extend nor delete the new holder's.
A holder killed with ``kill -9`` simply stops renewing: the lease is free ``ttl`` later.

A holder that fails to renew (engine unreachable, or the lease expired and was taken) is told
through :attr:`Lease.lost`, and must stop the work it guards: after ``ttl`` someone else may run it.

Used by the UID2 identity jobs (:mod:`server.cluster.jobs`), whose results reach every node
through the live-edit stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Final

import redis.asyncio as aioredis

from server.cluster.engine import EngineError, Keys

RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def default_owner() -> str:
    """Who holds it, for status pages: host, pid and a random part (pids repeat across hosts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease named ``name`` under ``key_prefix``; one object per would-be holder."""

    def __init__(self, engine: aioredis.Redis, key_prefix: str, name: str, *, ttl_s: float,
                 owner: str | None = None) -> None:
        self.key = Keys(key_prefix).lease(name)
        self.owner = owner or default_owner()
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._engine = engine
        self._renew = engine.register_script(RENEW)
        self._release = engine.register_script(RELEASE)
        #: Set when a renewal failed while :meth:`held` runs: stop the guarded work.
        self.lost = asyncio.Event()

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; ``False`` if someone does."""
        return bool(await self._engine.set(self.key, self.owner, nx=True, px=self._ttl_ms))

    async def renew(self) -> bool:
        """Extend our lease by ``ttl``; ``False`` if it is no longer ours."""
        return bool(await self._renew(keys=[self.key], args=[self.owner, self._ttl_ms]))

    async def release(self) -> bool:
        """Give the lease back, if it is still ours."""
        return bool(await self._release(keys=[self.key], args=[self.owner]))

    async def holder(self) -> str | None:
        """Who holds it now (any node can ask): the owner string, or ``None``."""
        value = await self._engine.get(self.key)
        return None if value is None else str(value)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """Yield whether we got the lease; while inside, renew it every ``ttl / 3``."""
        if not await self.acquire():
            yield False
            return
        self.lost.clear()
        renewer = asyncio.create_task(self._keep(), name=f"lease-{self.key}")
        try:
            yield True
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            with contextlib.suppress(*EngineError):
                await self.release()

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                still_ours = await self.renew()
            except EngineError:
                still_ours = False
            if not still_ours:
                self.lost.set()
                return
