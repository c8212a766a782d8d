"""The embedded store: every uvicorn worker reads the same SQLite snapshot file.

Workers do not copy the data: pages come from the OS page cache (through ``pread``, or shared
through ``mmap`` with ``[store] mmap = true``), so a worker's private memory (USS) stays small
however large the snapshot. The connection's own page cache is kept tiny for the same reason.

A damaged snapshot never raises into a request: :meth:`SQLiteStore.lookup` answers an empty
result marked ``failed`` and counts it, the connection is dropped and the store goes back to the
last good snapshot on disk (see :mod:`segments.store.opening`). With mmap on, every lookup that
reads SQLite first checks the file has not shrunk (one ``fstat``, ~0.3 µs): a page read past the
end of a mapped file is a SIGBUS, which no Python code can catch.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog

from segments.bounded import BoundedCache
from segments.store import schema
from segments.store.base import LookupResult, SnapshotInfo, StoreError, StoreHealth
from segments.store.integrity import DamagedSnapshot
from segments.store.opening import MMAP_BYTES, Meta, Opened, Opener, open_reader, prewarm, read_meta
from segments.store.snapshots import SnapshotDir
from segments.taxonomy import Taxonomy

__all__ = ["MMAP_BYTES", "SQLiteStore", "open_reader", "prewarm"]

log = structlog.get_logger("segments.store")
_T = TypeVar("_T")

# Keys whose values are remembered per worker (see lookup); user-level keys are never cached.
CONTEXTUAL_PREFIXES = ("url:", "domain:", "bundle:", "content_id:", "geo:", "ip:")
CONTEXT_CACHE_SIZE = 65536
# Longer keys are looked up but never remembered: the cache is bounded by entries *and* entry
# size, so unique long URLs from requests cannot grow a worker (issue 25, item 7) — 65,536
# entries of at most 256 characters is ~20 MB at worst.
CONTEXT_KEY_MAX = 256
EQUALITY_TERMS = 32
# maybe_reload runs a check when at most this share of ``check_interval`` is still to go.
TIMER_SLACK = 0.1
# A remembered contextual value: (stored blob, live segment ids, when that list next changes).
_Remembered = tuple[bytes, list[str], float]
# A remembered miss: no live segments, and nothing that could change that before a reload.
_MISS: _Remembered = (b"", [], float("inf"))


def _in_thread(work: Callable[[], _T]) -> Future[_T]:
    """Run ``work`` on a thread of its own; its result (or exception) comes back through the future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-prewarm")
    future = pool.submit(work)
    pool.shutdown(wait=False)  # no more work for it; the thread ends when ``work`` does
    return future


class SQLiteStore:
    """A read view of the current snapshot that follows publishes and live edits.

    :meth:`maybe_reload` runs on a timer (the worker's upkeep task, every ``check_interval``
    seconds; requests never call it): one ``stat()`` of ``CURRENT`` (new snapshot published?),
    one ``fstat()`` of the serving file (shrunk under us?) and one ``PRAGMA data_version`` (live
    edit committed by another process?). With ``prewarm``, a new snapshot is checked and warmed
    in a thread and swapped in when ready; the old one serves meanwhile.
    """

    def __init__(self, data_dir: str | Path, *, check_interval: float = 1.0, prewarm: bool = False,
                 mmap: bool = False, verify: bool = True, fallback: bool = True) -> None:
        self._dir = SnapshotDir(data_dir)
        self._opener = Opener(self._dir, mmap=mmap, verify=verify, prewarm=prewarm, fallback=fallback)
        self._prewarm = prewarm
        self._mmap = mmap
        self._warming: Future[Opened] | None = None
        self._check_interval = check_interval
        self._next_check = 0.0
        self._conn: sqlite3.Connection | None = None
        self._cursor: sqlite3.Cursor | None = None
        self._serving: Opened | None = None
        self._stamp: tuple[int, int] | None = None
        self._data_version = -1
        self._taxonomy = Taxonomy()
        self._ip_lengths: frozenset[int] = frozenset()
        self._info = SnapshotInfo(0, 0.0, 0, 0, "")
        self._sql_cache: dict[tuple[int, bool, bool], str] = {}
        self._any_classifying = False
        self._any_links = False
        self._context_cache: BoundedCache[str, _Remembered] = BoundedCache(
            CONTEXT_CACHE_SIZE, CONTEXT_KEY_MAX)
        self._problem: str | None = None
        self._lookup_failures = 0
        self._fd = -1
        self._size = 0
        self._adopt(self._opener.open())  # raises StoreError naming the file: nothing usable to serve

    # -- reading ---------------------------------------------------------------------------

    @property
    def taxonomy(self) -> Taxonomy:
        return self._taxonomy

    @property
    def ip_prefix_lengths(self) -> frozenset[int]:
        return self._ip_lengths

    @property
    def info(self) -> SnapshotInfo:
        return self._info

    def _sql(self, n: int, classifying: bool, links: bool) -> str:
        """One statement for ``n`` keys over the tables asked for, cached per shape.

        Up to :data:`EQUALITY_TERMS` keys it is a ``UNION ALL`` of ``key = ?`` probes — measured
        25 % faster than ``key IN (…)`` for the 1–8 keys of a request, because ``IN`` first builds
        an ephemeral index of its list; longer lists (and SQLite's 500-term compound limit) use ``IN``.
        """
        sql = self._sql_cache.get((n, classifying, links))
        if sql is None:
            tables = [("members", "0", "segs")]
            if classifying:
                tables.append(("classifying", "1", "NULL"))
            if links:
                tables.append(("links", "2", "ids"))
            if n <= EQUALITY_TERMS:  # each probe answers its key's position, not the key's text
                parts = [f"SELECT {tag}, {i}, {value} FROM {table} WHERE key = ?"
                         for table, tag, value in tables for i in range(n)]
            else:
                marks = ",".join("?" * n)
                parts = [f"SELECT {tag}, key, {value} FROM {table} WHERE key IN ({marks})"
                         for table, tag, value in tables]
            sql = self._sql_cache[(n, classifying, links)] = " UNION ALL ".join(parts)
        return sql

    def lookup(self, keys: Sequence[str], now: float, *, classifying: bool = True,
               links: bool = False) -> LookupResult:
        """All keys in one query; expired memberships are dropped here, not by a sweeper.

        ``classifying=False`` (``/rtd`` has no use for it) skips the classifying table, and so
        does an empty table, the usual case. ``links=True`` also returns the keys' Xandr id links
        (only asked for when the mirror is on). Contextual keys (pages, domains, apps, geo, ip)
        repeat across requests, so their decoded values are remembered per snapshot until their
        earliest expiry; user-level keys always go to SQLite. The lists in ``hits`` may be shared
        with that memory: callers read them, never change them.

        Never raises: when the snapshot cannot be read the result is empty with ``failed`` set,
        the failure is counted (:meth:`health`) and the store moves to the last good snapshot.
        """
        result = LookupResult()
        if not keys:
            return result
        if self._conn is None:  # damaged, and no good snapshot found yet: an empty answer, counted
            self._lookup_failures += 1
            result.failed = True
            return result
        with_classifying = classifying and self._any_classifying
        cache = None if with_classifying else self._context_cache
        hits = result.hits
        ask: list[str] = []
        remember = False  # a contextual key goes to SQLite: its answer (or miss) is remembered
        for key in keys if len(keys) <= schema.MAX_KEYS_PER_LOOKUP else keys[: schema.MAX_KEYS_PER_LOOKUP]:
            if cache is not None:  # holds contextual keys only: no prefix test for the ones it knows
                known = cache.get(key)
                if known is not None:  # a remembered answer, or a remembered miss (_MISS)
                    if now >= known[2]:  # a membership expired since: decode again
                        live, until = schema.live_segments_until(known[0], now)
                        known = (known[0], live, until)
                        cache.put(key, known, len(key))
                    if known[1]:
                        hits[key] = known[1]
                    continue
                remember = remember or key.startswith(CONTEXTUAL_PREFIXES)
            ask.append(key)
        if ask:
            try:
                if self._mmap and os.fstat(self._fd).st_size < self._size:
                    raise DamagedSnapshot(self._info.path, "the file shrank while serving")
                self._query(ask, now, result, cache if remember else None, with_classifying,
                            links and self._any_links)
            except Exception as exc:  # noqa: BLE001 -- a lookup never raises into a request
                return self._failed_lookup(exc)
        return result

    def _failed_lookup(self, exc: Exception) -> LookupResult:
        """Count it; a read error from SQLite (or a shrunk file) means the file: drop it and recover."""
        self._lookup_failures += 1
        if isinstance(exc, (sqlite3.Error, StoreError)):
            self._drop(f"snapshot {self._info.path} failed a read: {exc}")
        else:  # a value that does not decode: the file is readable, the row is not
            if self._conn is not None:  # a fresh cursor: the held one may sit mid-statement
                self._cursor = self._conn.cursor()
            if self._problem is None:
                self._problem = f"unreadable value in snapshot {self._info.path}: {type(exc).__name__}: {exc}"
                log.error("store.lookup_failed", path=self._info.path, error=self._problem)
        return LookupResult(failed=True)

    def _query(self, ask: list[str], now: float, result: LookupResult,
               cache: BoundedCache[str, _Remembered] | None, with_classifying: bool,
               with_links: bool) -> None:
        """One statement for every key asked; ``cache`` (only when a contextual key is among them)
        remembers their answers and misses. Runs on the connection's one held cursor: the
        ``sqlite3`` module makes no cursor object per lookup then."""
        tables = 1 + with_classifying + with_links
        params = ask if tables == 1 else ask * tables
        found: set[str] | None = None if cache is None else set()
        assert self._cursor is not None
        sql = self._sql(len(ask), with_classifying, with_links)
        for table, ref, value in self._cursor.execute(sql, params):
            # up to EQUALITY_TERMS keys a row names its key by position (see _sql): the key string
            # asked for is reused, with its hash, instead of a new one decoded from the row
            key: str = ask[ref] if isinstance(ref, int) else ref
            if table == 0:
                live, until = schema.live_segments_until(value, now)
                if live:
                    result.hits[key] = live
                if found is not None and cache is not None:
                    found.add(key)
                    if key.startswith(CONTEXTUAL_PREFIXES):  # over CONTEXT_KEY_MAX: not kept
                        cache.put(key, (value, live, until), len(key))
            elif table == 1:
                result.classifying.add(key)
            else:
                result.links[key] = schema.decode_links(value)
        if found is not None and cache is not None:
            for key in ask:
                if key not in found and key.startswith(CONTEXTUAL_PREFIXES):
                    cache.put(key, _MISS, len(key))

    def health(self) -> StoreHealth:
        """``ok``, ``degraded`` (serving, with a problem naming the file) or ``failed`` (serving nothing)."""
        info, failures = self._info, self._lookup_failures
        if self._conn is None:
            return StoreHealth("failed", self._problem or "no snapshot open", "", failures)
        if self._problem is not None:
            return StoreHealth("degraded", self._problem, info.path, failures)
        detail = f"snapshot v{info.version}, {info.members} keys, {info.segments} segments"
        return StoreHealth("ok", detail, info.path, failures)

    def reload(self) -> bool:
        """Check for a new snapshot or live edits now (``/admin/reload``), not at the next interval.

        Runs the checks here and now (the caller asked to wait); never raises: a snapshot that
        fails them leaves the current one serving, and :meth:`health` says why.
        """
        self._discard_warming()
        self._next_check = time.monotonic() + self._check_interval
        try:
            if self._conn is not None and self._shrunk():
                self._drop(f"snapshot {self._info.path} is damaged: truncated while serving")
            if self._conn is None or self._dir.pointer_stamp() != self._stamp:
                return self._try_adopt(self._opener.open)
            return self._renew_read(self._conn)
        except Exception as exc:  # noqa: BLE001 -- an admin call must get an answer, not a 500
            self._unexpected(exc)
            return False

    def maybe_reload(self) -> bool:
        """The periodic check: the worker's upkeep task calls it once per ``check_interval``
        (requests never do). Never raises; returns whether it switched snapshot or saw live edits.

        A call less than ``check_interval`` after the last one (minus :data:`TIMER_SLACK` of it,
        so a timer that fires a hair early never skips a whole period) does nothing. The check
        itself costs one ``stat`` of ``CURRENT``, one ``fstat`` and the renewal of the held read
        transaction (:meth:`_renew_read`) — 9–11 µs at 10 M keys; a new snapshot is checked and warmed
        in a thread (with ``prewarm``), and adopted at the first call after it is ready.
        """
        now = time.monotonic()
        if now < self._next_check - self._check_interval * TIMER_SLACK:
            return False
        self._next_check = now + self._check_interval
        try:
            return self._check()
        except Exception as exc:  # noqa: BLE001 -- a timer's check must not kill its task
            self._unexpected(exc)
            return False

    def _check(self) -> bool:
        if self._conn is None:
            self._next_check = 0.0  # serving nothing: look again at every call, not once per interval
        if self._warming is not None and self._warming.done():
            return self._adopt_warmed()
        if self._conn is not None and self._shrunk():
            self._drop(f"snapshot {self._info.path} is damaged: truncated while serving")
        if self._warming is None and (self._conn is None or self._dir.pointer_stamp() != self._stamp):
            if self._prewarm:  # check and warm off the event loop; the current one serves meanwhile
                self._warming = _in_thread(self._opener.open)
                return False
            return self._try_adopt(self._opener.open)
        # While a new snapshot warms (seconds at 10 M keys), the current one still takes live
        # edits and renews its read transaction at every call.
        return self._renew_read(self._conn) if self._conn is not None else False

    def _shrunk(self) -> bool:
        """Snapshots never shrink (no VACUUM, no truncating checkpoint of the main file): damage."""
        return self._fd >= 0 and os.fstat(self._fd).st_size < self._size

    def _unexpected(self, exc: Exception) -> None:
        if isinstance(exc, sqlite3.Error):
            self._drop(f"snapshot {self._info.path} failed a read: {exc}")
        else:
            log.error("store.check_failed", path=self._info.path, error=f"{type(exc).__name__}: {exc}")

    def _renew_read(self, conn: sqlite3.Connection) -> bool:
        """End the held read transaction, pick up live edits, and hold the next one.

        Lookups run inside one long read transaction per check interval instead of one
        transaction per statement: in autocommit mode every query took and dropped the WAL read
        lock and re-checked the file (two ``fcntl`` and an ``fstat``, plus SQLite's begin/commit
        work) — a quarter of a lookup in ``perf``; the store benchmark's p50 fell from 15.9 to
        10.2 µs (README, "Benchmarks", round 4). Holding a WAL snapshot never
        blocks a writer; it only keeps a checkpoint from passing it, for one interval at most
        (the upkeep task renews it even when no request comes, see ``server.wiring``).
        """
        if conn.in_transaction:
            conn.execute("COMMIT")
        try:
            (data_version,) = conn.execute("PRAGMA data_version").fetchone()
            if data_version == self._data_version:
                return False
            self._data_version = data_version
            self._apply(read_meta(conn, self._info.path))
            return True
        finally:
            if not conn.in_transaction:
                conn.execute("BEGIN")

    def _try_adopt(self, get: Callable[[], Opened]) -> bool:
        try:
            self._adopt(get())
        except StoreError as exc:
            problem = f"{exc}; still serving {self._info.path}" if self._conn is not None else str(exc)
            if problem != self._problem:  # once per new problem, not once per interval
                log.error("store.open_failed", error=problem)
            self._problem = problem
            self._stamp = self._dir.pointer_stamp() if self._conn is not None else self._stamp
            return False
        return True

    def _adopt(self, opened: Opened) -> None:
        conn = opened.conn
        try:
            (data_version,) = conn.execute("PRAGMA data_version").fetchone()
            conn.execute("BEGIN")  # the held read transaction (see _renew_read); deferred, so no lock yet
        except sqlite3.Error as exc:
            opened.close()
            raise DamagedSnapshot(opened.path, str(exc)) from None
        old, self._serving, self._conn, self._stamp = self._serving, opened, conn, opened.stamp
        self._cursor = conn.cursor()
        self._fd, self._size, self._data_version = opened.fd, opened.size, data_version
        self._apply(opened.meta)
        self._sql_cache.clear()
        if opened.problem is not None:
            log.error("store.fallback", serving=str(opened.path), problem=opened.problem)
        elif self._problem is not None:
            log.warning("store.recovered", serving=str(opened.path), was=self._problem)
        self._problem = opened.problem
        if old is not None:
            old.close()

    def _apply(self, meta: Meta) -> None:
        self._taxonomy = meta.taxonomy
        self._ip_lengths = meta.ip_lengths
        self._info = meta.info
        self._any_classifying = meta.any_classifying
        self._any_links = meta.any_links
        self._context_cache.clear()  # a new snapshot or a live edit: remembered values may be stale

    def _drop(self, reason: str) -> None:
        """Stop reading a damaged file at once (its pages may be gone); recover at the next check."""
        log.error("store.damaged", error=reason, action="empty answers until a good snapshot is open")
        serving, self._serving, self._conn, self._cursor = self._serving, None, None, None
        self._fd, self._size, self._problem = -1, 0, reason
        self._info = SnapshotInfo(0, 0.0, 0, 0, "")
        self._context_cache.clear()
        self._next_check = 0.0
        if serving is not None:
            with contextlib.suppress(Exception):
                serving.close()

    def _adopt_warmed(self) -> bool:
        warming = self._warming
        if warming is None or not warming.done():
            return False
        self._warming = None
        return self._try_adopt(warming.result)

    def _discard_warming(self) -> None:
        warming, self._warming = self._warming, None
        if warming is not None:
            with contextlib.suppress(Exception):
                warming.result().close()

    def close(self) -> None:
        self._discard_warming()
        serving, self._serving, self._conn, self._cursor = self._serving, None, None, None
        if serving is not None:
            serving.close()


