"""Each worker's two-way sync of the auth tables with the engine, every ``sync_interval_s``.

Why a background task per worker and not a call per request: the guard must answer from memory
(no network round trip on ``/rtd``). Every interval the task

1. pushes this node's rows if its ``auth.sqlite3`` changed (``PRAGMA data_version``: a revoke by
   the admin API, the CLI or another worker) — one Lua script merges them atomically and bumps
   the version key only if something changed;
2. reads the engine's version key (one ``GET``) and, only when it moved, pulls the three hashes
   in one MULTI, merges them into ``auth.sqlite3`` and has this worker's
   :class:`~server.auth.revocation.RevocationView` reload at its next request.

A revoke on node A therefore reaches node B's guard within about two intervals (≈ 0.4 s at the
default 0.2 s). When the engine is unreachable the local database and the view keep the last
known state (nothing is refused that was accepted before, nothing revoked comes back), local
changes stay in ``auth.sqlite3`` and are pushed on reconnection, and :attr:`state` says degraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis
import structlog

from server.auth import db
from server.auth.revocation import RevocationNotShared, RevocationView
from server.cluster.authrows import AuthRows, Cutoffs, apply_remote, read_local
from server.cluster.engine import EngineError, Keys

log = structlog.get_logger("server.cluster")

#: KEYS: revocations, identities, signing_keys, version. ARGV: AuthRows.to_json(), the revocation
#: and key prune cutoffs (ms). The same merge and prune rules as :mod:`server.cluster.authrows`,
#: applied atomically in the engine; pruning alone does not bump the version.
PUSH_SCRIPT: Final = """
local function nmax(a, b)
  if #a ~= #b then if #a > #b then return a else return b end end
  if a > b then return a else return b end
end
local function parts(s)
  local t = {}
  for p in string.gmatch(s, '([^:]+)') do t[#t + 1] = p end
  return t
end
local function older(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function expired_rev(v)
  local p = parts(v)
  return p[3] ~= '1' and older(p[2], ARGV[2])
end
local function expired_key(v)
  local p = parts(v)
  return p[4] ~= '0' and older(p[4], ARGV[3])
end
local data = cjson.decode(ARGV[1])
local changed = 0
local stored = redis.call('HGETALL', KEYS[1])
for i = 1, #stored, 2 do
  if expired_rev(stored[i + 1]) then redis.call('HDEL', KEYS[1], stored[i]) end
end
stored = redis.call('HGETALL', KEYS[3])
for i = 1, #stored, 2 do
  if expired_key(stored[i + 1]) then redis.call('HDEL', KEYS[3], stored[i]) end
end
for id, val in pairs(data.rev) do
  if not expired_rev(val) then
    local cur = redis.call('HGET', KEYS[1], id)
    local new = val
    if cur then
      local a, b = parts(cur), parts(val)
      new = nmax(a[1], b[1]) .. ':' .. nmax(a[2], b[2]) .. ':' .. nmax(a[3], b[3])
    end
    if new ~= cur then redis.call('HSET', KEYS[1], id, new); changed = changed + 1 end
    if string.sub(new, -2) == ':1' then changed = changed + redis.call('HDEL', KEYS[2], id) end
  end
end
for id, val in pairs(data.ids) do
  local rev = redis.call('HGET', KEYS[1], id)
  if not (rev and string.sub(rev, -2) == ':1') then
    changed = changed + redis.call('HSETNX', KEYS[2], id, val)
  end
end
for kid, val in pairs(data.keys) do
  local cur = redis.call('HGET', KEYS[3], kid)
  if expired_key(val) then
    -- past its prune time: never (re)published
  elseif not cur then
    redis.call('HSET', KEYS[3], kid, val); changed = changed + 1
  else
    local a, b = parts(cur), parts(val)
    if a[1] == b[1] and b[4] ~= '0' and (a[4] == '0' or nmax(a[4], b[4]) == a[4]) and a[4] ~= b[4] then
      redis.call('HSET', KEYS[3], kid, a[1] .. ':' .. a[2] .. ':' .. a[3] .. ':' .. b[4])
      changed = changed + 1
    end
  end
end
if changed > 0 then return redis.call('INCR', KEYS[4]) end
return tonumber(redis.call('GET', KEYS[4]) or '0')
"""


@dataclass(frozen=True, slots=True)
class SyncState:
    """What readiness and ``/admin/status`` show about the engine link."""

    connected: bool
    detail: str
    version: int | None
    last_ok: float | None


class AuthSync:
    """Keeps this node's auth database and guard view in step with the engine."""

    def __init__(self, engine: aioredis.Redis, keys: Keys, view: RevocationView, *,
                 interval_s: float) -> None:
        self._engine = engine
        self._keys = keys
        self._view = view
        self._path: Path = view.path
        self._interval = interval_s
        self._push = engine.register_script(PUSH_SCRIPT)
        self._conn: sqlite3.Connection | None = None
        self._local_version: int | None = None  # data_version at our last successful push
        self._remote_version: int | None = None  # engine version at our last pull
        self._error: str | None = "not synced yet"
        self._last_ok: float | None = None
        self.pushes = self.pulls = 0
        self._wake: asyncio.Event | None = None  # made in the loop that runs us

    @property
    def state(self) -> SyncState:
        if self._error is None:
            return SyncState(True, f"engine reachable, auth version {self._remote_version}",
                             self._remote_version, self._last_ok)
        since = f" since {time.time() - self._last_ok:.1f} s" if self._last_ok else ""
        return SyncState(False, f"engine unreachable{since} ({self._error}): serving local state, "
                         "revocations as last known, local changes pushed on reconnection",
                         self._remote_version, self._last_ok)

    async def run(self) -> None:
        """The background loop; never raises (cancel it to stop)."""
        wake = self._wake = asyncio.Event()
        while True:
            await self.sync_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._interval)
            wake.clear()

    async def before_write(self) -> None:
        """A live check (one PING) before a revoke or delete: refuse rather than revoke on one node."""
        try:
            await self._engine.ping()
        except EngineError as exc:
            raise RevocationNotShared(
                f"cluster engine unreachable ({exc or type(exc).__name__}): nothing was revoked, since only "
                "this node would know. Retry once /health/ready is no longer degraded; in an emergency run "
                "`segment-server identities revoke` on every node (shared when the engine is back)") from None

    def written(self) -> None:
        """Wake the loop: push the change now instead of at the next tick."""
        if self._wake is not None:
            self._wake.set()

    async def sync_once(self) -> bool:
        """One push-if-changed and pull-if-changed; ``False`` (and degraded state) if the engine failed."""
        try:
            await self._push_if_changed()
            await self._pull_if_changed()
        except EngineError as exc:
            if self._error is None:
                log.warning("cluster.engine_unreachable", error=str(exc) or type(exc).__name__)
            self._error = str(exc) or type(exc).__name__
            return False
        except sqlite3.Error as exc:  # the auth db health check reports this one; keep trying
            self._close()
            self._error = f"auth database: {exc}"
            return False
        if self._error is not None and self._last_ok is not None:
            log.info("cluster.engine_reachable", version=self._remote_version)
        self._error, self._last_ok = None, time.time()
        return True

    async def _push_if_changed(self) -> None:
        conn = self._connection()
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._local_version:
            return
        rows = read_local(conn)
        cutoffs = Cutoffs.at(time.time())
        await self._push(keys=[self._keys.revocations, self._keys.identities, self._keys.signing_keys,
                               self._keys.auth_version],
                         args=[rows.to_json(), cutoffs.revocations_ms, cutoffs.keys_ms])
        self._local_version = version  # only after the engine took it: a failed push is retried
        self.pushes += 1
        self._view.check_soon()  # this worker sees its own node's revoke now, not in up to refresh_s

    async def _pull_if_changed(self) -> None:
        raw = await self._engine.get(self._keys.auth_version)
        version = int(raw or 0)
        if version == self._remote_version:
            return
        if self._remote_version is not None and version < self._remote_version:
            # The engine lost its data (restarted without persistence, flushed): publish everything
            # this node knows again at once, before a newly started node can claim our key ids.
            log.warning("cluster.engine_reset", seen=self._remote_version, now=version)
            self._local_version = None
            await self._push_if_changed()
        async with self._engine.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.auth_version)
            pipe.hgetall(self._keys.revocations)
            pipe.hgetall(self._keys.identities)
            pipe.hgetall(self._keys.signing_keys)
            version_raw, rev, ids, keys = await pipe.execute()
        remote = AuthRows(rev, ids, keys)
        local = read_local(self._connection())
        changed = await asyncio.to_thread(apply_remote, self._path, local, remote, Cutoffs.at(time.time()))
        if changed:
            self._view.check_soon()  # in force from this worker's next request; other workers pull too
        self._remote_version = int(version_raw or 0)
        self.pulls += 1

    def close(self) -> None:
        """Lifespan end: close the connection and stop vouching for this view's writes."""
        if self._view.shared is self:
            self._view.shared = None
        self._close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = db.connect(self._path)
            self._local_version = None
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
