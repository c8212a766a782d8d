"""Xandr's per-member rate ceilings, shared by every sender on every node: leaky buckets in the engine.

"1 秒あたり最大 100 POST 呼び出し (メンバーあたり)" and "1 秒あたり最大 1,000 ユーザー" are per
member, not per process (:mod:`server.mirror.limits`). The lease keeps one sender active, but a
holder that lost its lease mid-request, or a standalone ``mirror run`` racing a takeover, must
still not push the member over. So each POST first asks one Lua script, which checks *both*
buckets and takes from both or from neither (all-or-nothing: a POST never spends users budget it
then waits on). The model is the one the single-node aiolimiter and the fake Xandr use: capacity =
one second's worth, leaking continuously. The script reads the engine's clock (``TIME``), so the
nodes' clocks never matter. When the budget is short it answers how long to wait; the caller
sleeps that long and asks again.
"""

from __future__ import annotations

import asyncio
from typing import Final

import redis.asyncio as aioredis

from server.cluster.stream import StreamKeys

#: KEYS: posts bucket, users bucket (hashes: level ``l``, time ``t``). ARGV: posts/s, users/s, users
#: in this POST. Returns '0' when both were taken, else the seconds to wait (a string: Lua numbers
#: would be truncated to integers in the reply).
BUCKET_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function level(key, rate)
  local v = redis.call('HMGET', key, 'l', 't')
  local l, ts = tonumber(v[1]) or 0, tonumber(v[2]) or now
  return math.max(0, l - math.max(0, now - ts) * rate)
end
local pr, ur, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local pl, ul = level(KEYS[1], pr), level(KEYS[2], ur)
local wait = 0
if pl + 1 > pr then wait = (pl + 1 - pr) / pr end
if n > 0 and ul + n > ur then wait = math.max(wait, (ul + n - ur) / ur) end
if wait > 0 then return string.format('%.6f', wait) end
redis.call('HSET', KEYS[1], 'l', string.format('%.6f', pl + 1), 't', string.format('%.6f', now))
redis.call('HSET', KEYS[2], 'l', string.format('%.6f', ul + n), 't', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], 5000)
redis.call('PEXPIRE', KEYS[2], 5000)
return '0'
"""

#: Never sleep longer than this between asks (another sender may have waited less).
MAX_WAIT_S: Final = 1.0


class SharedRate:
    """``await acquire(users)`` before each POST; counts how often it had to wait (contention)."""

    def __init__(self, engine: aioredis.Redis, keys: StreamKeys, posts_per_second: float,
                 users_per_second: float) -> None:
        self._script = engine.register_script(BUCKET_SCRIPT)
        self._keys = [keys.rate("posts"), keys.rate("users")]
        self._posts, self._users = posts_per_second, users_per_second
        self.waits = 0

    async def try_acquire(self, users: int) -> float:
        """Take budget for one POST of ``users`` users; 0.0 if taken, else seconds until it may be."""
        answer = await self._script(keys=self._keys, args=[self._posts, self._users, min(users, self._users)])
        return float(answer)

    async def acquire(self, users: int) -> None:
        while (wait := await self.try_acquire(users)) > 0:
            self.waits += 1
            await asyncio.sleep(min(wait, MAX_WAIT_S))
