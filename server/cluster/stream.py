"""The Xandr mirror outbox in the engine: one Redis Stream per Xandr member, read by a consumer group.

Keys (``{p}`` is the ``[cluster] key_prefix`` hash tag, so every script's keys share one slot;
``<m>`` is ``[mirror] member_id``, or ``default``):

========================================  ===================================================
``{p}:mirror:<m>:stream``                 Stream of pending intents, field ``v`` = JSON row;
                                          group ``senders``, one consumer per sender instance
``{p}:mirror:<m>:forwarded``              Hash node id → highest local outbox id forwarded
``{p}:mirror:<m>:dead``                   Stream of dead letters (``v``, ``reason``, ``message``)
``{p}:mirror:<m>:dead_counts``            Hash reason → dead letters
``{p}:mirror:<m>:duplicates``             Counter: intents sent again after their sender died
``{p}:mirror:<m>:sent:<minute>``          Counter: users delivered in that minute (expires)
``{p}:mirror:<m>:rate:posts`` / ``users``  The shared leaky buckets (:mod:`server.cluster.stream_rate`)
``{p}:lease:mirror-sender:<m>``           The one-sender lease (:mod:`server.cluster.lease`)
========================================  ===================================================

At-least-once: an entry leaves the stream (XACK + XDEL) only after Xandr answered OK for it, or
atomically moves to the dead stream (one script) when a warning dead-letters it. Entries a sender
read and never settled stay in the group's pending list and are claimed by the next holder of the
lease with XAUTOCLAIM once idle for ``lease_seconds``.

Forwarding is idempotent per node: the forward script skips rows at or below the node's mark, so
a node killed between its XADD and its local delete does not add them twice when it restarts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from server.cluster.engine import Keys
from server.mirror.types import Intent, SegBlock

GROUP: Final = "senders"
#: A past sender with nothing pending is forgotten after this long (its name is in ``status``).
PRUNE_IDLE_MS: Final = 600_000
#: Rows per forward script call; several calls go in one pipeline.
FORWARD_CHUNK: Final = 500

#: KEYS: stream, forwarded marks. ARGV: node id, max stream length, the previous chunk's top id
#: (0 for the first chunk of a pipeline), then (local id, payload) pairs in ascending id order.
#: Returns rows added, -1 when the stream is full, -2 when the previous chunk was not applied
#: (a later chunk must never move the mark past rows still waiting locally).
FORWARD_SCRIPT: Final = """
local mark = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mark < tonumber(ARGV[3]) then return -2 end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local added, top = 0, mark
for i = 4, #ARGV, 2 do
  local id = tonumber(ARGV[i])
  if id > mark then
    redis.call('XADD', KEYS[1], '*', 'v', ARGV[i + 1])
    added = added + 1
    if id > top then top = id end
  end
end
if top > mark then redis.call('HSET', KEYS[2], ARGV[1], top) end
return added
"""

#: KEYS: stream, dead stream, dead counts. ARGV: group, reason, message, time, stream ids...
#: Moves each entry to the dead stream and acknowledges it, in one step: never both pending and dead.
DEAD_SCRIPT: Final = """
local n = 0
for i = 5, #ARGV do
  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #e > 0 then
    redis.call('XADD', KEYS[2], '*', 'v', e[1][2][2], 'reason', ARGV[2], 'message', ARGV[3], 'at', ARGV[4])
    n = n + 1
  end
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
end
if n > 0 then redis.call('HINCRBY', KEYS[3], ARGV[2], n) end
return n
"""

#: KEYS: stream, dead stream, dead counts. ARGV: reason ('' = all), start id (exclusive after the
#: first call), count. Returns {moved, last id scanned or ''}.
RETRY_SCRIPT: Final = """
local entries = redis.call('XRANGE', KEYS[2], ARGV[2], '+', 'COUNT', ARGV[3])
local moved, last = 0, ''
for _, e in ipairs(entries) do
  last = e[1]
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  if ARGV[1] == '' or f['reason'] == ARGV[1] then
    redis.call('XADD', KEYS[1], '*', 'v', f['v'])
    redis.call('XDEL', KEYS[2], e[1])
    if redis.call('HINCRBY', KEYS[3], f['reason'], -1) <= 0 then redis.call('HDEL', KEYS[3], f['reason']) end
    moved = moved + 1
  end
end
return {moved, last}
"""

#: KEYS: stream. ARGV: group, consumer to keep, idle ms. Deletes idle consumers with nothing pending.
PRUNE_SCRIPT: Final = """
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    n = n + 1
  end
end
return n
"""


@dataclass(frozen=True, slots=True)
class StreamKeys:
    """Every key of one member's mirror, under the cluster's hash tag."""

    prefix: str
    member: str

    @classmethod
    def of(cls, prefix: str, member_id: int | None) -> StreamKeys:
        return cls(prefix, "default" if member_id is None else str(member_id))

    def _key(self, name: str) -> str:
        return Keys(self.prefix).mirror(self.member, name)

    @property
    def stream(self) -> str:
        return self._key("stream")

    @property
    def forwarded(self) -> str:
        return self._key("forwarded")

    @property
    def dead(self) -> str:
        return self._key("dead")

    @property
    def dead_counts(self) -> str:
        return self._key("dead_counts")

    @property
    def duplicates(self) -> str:
        return self._key("duplicates")

    def sent(self, minute: int) -> str:
        return self._key(f"sent:{minute}")

    def rate(self, kind: str) -> str:
        return self._key(f"rate:{kind}")

    @property
    def lease_name(self) -> str:
        """The :class:`~server.cluster.lease.Lease` name: key ``{p}:lease:mirror-sender:<m>``."""
        return f"mirror-sender:{self.member}"

    @property
    def lease(self) -> str:
        return Keys(self.prefix).lease(self.lease_name)


def read_entries(reply: Any) -> list[tuple[str, str]]:
    """XREADGROUP's reply (``[[stream, [(id, fields), …]]]``) as (id, payload); deleted ones skipped."""
    return [(str(sid), str(fields["v"])) for _, entries in reply or [] for sid, fields in entries
            if fields and "v" in fields]


def claimed_entries(reply: Any) -> tuple[str, list[tuple[str, str]]]:
    """XAUTOCLAIM's reply as (next cursor, [(id, payload)]); entries deleted meanwhile skipped."""
    return str(reply[0]), [(str(sid), str(f["v"])) for sid, f in reply[1] if f and "v" in f]


def encode(intent: Intent) -> str:
    b = intent.block
    return orjson.dumps([intent.user_id, intent.domain, b.seg_id, b.seg_code, b.member_id, b.value,
                         b.expiration, intent.created]).decode()


def decode(local_id: int, payload: str) -> Intent:
    user_id, domain, seg_id, seg_code, member_id, value, expiration, created = orjson.loads(payload)
    return Intent(id=local_id, user_id=str(user_id), domain=domain,
                  block=SegBlock(seg_id=seg_id, seg_code=seg_code, member_id=member_id, value=value,
                                 expiration=expiration), created=float(created))


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """What ``mirror status`` and ``/admin/status`` show about the shared outbox (any node)."""

    stream_length: int
    pending: dict[str, int]  # consumer (sender holder) → entries read and not yet settled
    lease_holder: str | None
    dead_letters: dict[str, int]
    duplicates: int
    sent_last_5min: int
    forwarded: dict[str, int] = field(default_factory=dict)  # node id → highest local id forwarded


class StreamOutbox:
    """One member's stream and its bookkeeping; every method is one round trip (a pipeline or a script)."""

    def __init__(self, engine: aioredis.Redis, keys: StreamKeys) -> None:
        self.engine = engine
        self.keys = keys
        self._forward = engine.register_script(FORWARD_SCRIPT)
        self._dead = engine.register_script(DEAD_SCRIPT)
        self._retry = engine.register_script(RETRY_SCRIPT)
        self._prune = engine.register_script(PRUNE_SCRIPT)

    async def ensure_group(self) -> None:
        """The consumer group, from the stream's start (entries forwarded before it existed count)."""
        try:
            await self.engine.xgroup_create(self.keys.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- forwarder -------------------------------------------------------------------------------
    async def forward(self, node_id: str, intents: Sequence[Intent], max_len: int) -> tuple[list[int], bool]:
        """XADD ``intents`` (ascending local ids) in pipelined chunks; returns the local ids now in
        the stream (safe to delete locally) and whether the stream was full."""
        chunks = [intents[i:i + FORWARD_CHUNK] for i in range(0, len(intents), FORWARD_CHUNK)]
        if not chunks:
            return [], False
        async with self.engine.pipeline(transaction=False) as pipe:
            previous_top = 0
            for chunk in chunks:
                args: list[str | int] = [node_id, max_len, previous_top]
                for intent in chunk:
                    args += [intent.id, encode(intent)]
                await self._forward(keys=[self.keys.stream, self.keys.forwarded], args=args, client=pipe)
                previous_top = chunk[-1].id
            results = await pipe.execute()
        done = [i.id for chunk, added in zip(chunks, results, strict=True) if int(added) >= 0 for i in chunk]
        return done, any(int(r) == -1 for r in results)

    # -- sender ----------------------------------------------------------------------------------
    async def ack(self, stream_ids: Sequence[str], users_sent: int = 0, duplicates: int = 0) -> None:
        """Settled: XACK + XDEL (the stream holds only unsettled entries), plus the counters."""
        async with self.engine.pipeline(transaction=False) as pipe:
            if stream_ids:
                pipe.xack(self.keys.stream, GROUP, *stream_ids)
                pipe.xdel(self.keys.stream, *stream_ids)
            if users_sent:
                key = self.keys.sent(int(time.time() // 60))
                pipe.incrby(key, users_sent)
                pipe.expire(key, 900)
            if duplicates:
                pipe.incrby(self.keys.duplicates, duplicates)
            await pipe.execute()

    async def dead_letter(self, stream_ids: Sequence[str], reason: str, message: str) -> int:
        return int(await self._dead(keys=[self.keys.stream, self.keys.dead, self.keys.dead_counts],
                                    args=[GROUP, reason, message, f"{time.time():.3f}", *stream_ids]))

    async def prune_consumers(self, keep: str, idle_ms: int = PRUNE_IDLE_MS) -> int:
        """Drop consumers (past senders) with nothing pending, idle ≥ ``idle_ms``, in one script: never
        one with pending entries (XGROUP DELCONSUMER would drop them from the pending list)."""
        try:
            return int(await self._prune(keys=[self.keys.stream], args=[GROUP, keep, idle_ms]))
        except ResponseError:  # NOGROUP: nothing forwarded yet
            return 0

    # -- ops ---------------------------------------------------------------------------------------
    async def status(self) -> StreamStatus:
        minute = int(time.time() // 60)
        async with self.engine.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.stream)
            pipe.get(self.keys.lease)
            pipe.hgetall(self.keys.dead_counts)
            pipe.get(self.keys.duplicates)
            pipe.mget([self.keys.sent(m) for m in range(minute - 5, minute + 1)])
            pipe.hgetall(self.keys.forwarded)
            length, holder, dead, duplicates, sent, forwarded = await pipe.execute()
        try:
            pending = await self.engine.xpending(self.keys.stream, GROUP)
        except ResponseError:  # NOGROUP: nothing was ever forwarded
            pending = {}
        return StreamStatus(
            stream_length=int(length), lease_holder=holder, duplicates=int(duplicates or 0),
            pending={str(c["name"]): int(c["pending"]) for c in pending.get("consumers") or []},
            dead_letters={str(k): int(v) for k, v in dead.items()},
            sent_last_5min=sum(int(s) for s in sent if s),
            forwarded={k: int(v) for k, v in forwarded.items()})

    async def retry_dead_letters(self, reason: str | None = None) -> int:
        """Move dead letters (all, or one reason) back into the stream, 1000 per script call."""
        moved, start = 0, "-"
        while True:
            n, last = await self._retry(keys=[self.keys.stream, self.keys.dead, self.keys.dead_counts],
                                        args=[reason or "", start, 1000])
            moved += int(n)
            if not last:
                return moved
            start = f"({last}"

    async def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        entries: Any = await self.engine.xrange(self.keys.dead, count=limit)
        return [{"id": sid, "reason": f.get("reason"), "message": f.get("message"),
                 "intent": orjson.loads(f["v"])} for sid, f in entries]
