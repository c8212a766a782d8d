"""The embedded store: every uvicorn worker reads the same SQLite snapshot through mmap.

Workers do not copy the data: pages come from the OS page cache through ``mmap`` and are shared
between processes, so a worker's private memory (USS) stays small however large the snapshot.
The connection's own page cache is kept tiny for the same reason.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
import structlog

from segments.store import schema
from segments.store.base import LookupResult, NoSnapshot, SnapshotInfo, StoreError
from segments.store.snapshots import SnapshotDir
from segments.taxonomy import Segment, Taxonomy, segment_from_row

log = structlog.get_logger("segments.store")
_T = TypeVar("_T")

# Keys whose values are remembered per worker (see lookup); user-level keys are never cached.
CONTEXTUAL_PREFIXES = ("url:", "domain:", "bundle:", "content_id:", "geo:", "ip:")
CONTEXT_CACHE_SIZE = 65536
EQUALITY_TERMS = 32
_UNKNOWN: Any = object()
# A remembered contextual value: (stored blob, live segment ids, when that list next changes).
_Remembered = tuple[bytes, list[str], float]
MMAP_BYTES = 1 << 36  # 64 GiB of address space: the whole file is mapped, the OS decides what is resident


def open_reader(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, cached_statements=256)
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    conn.execute("PRAGMA cache_size=-1024")  # 1 MiB private page cache; mmap does the rest
    return conn


def prewarm(conn: sqlite3.Connection) -> None:
    """Touch every page of the ``members`` tree through ``conn``'s memory map.

    A page read through mmap for the first time costs the process a page fault, even when the
    file is in the OS page cache; on a 10 M-key snapshot the first lookups of random users paid
    several (store benchmark, first pass: p99 22 µs; warmed: 15 µs). One ``count(*)`` walks
    every leaf once — 0.3 s for 10 M keys — and the pages stay shared with the other workers.
    """
    conn.execute("SELECT count(*) FROM members").fetchone()


def _in_thread(work: Callable[[], _T]) -> Future[_T]:
    """Run ``work`` on a thread of its own; its result (or exception) comes back through the future."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-prewarm")
    future = pool.submit(work)
    pool.shutdown(wait=False)  # no more work for it; the thread ends when ``work`` does
    return future


class SQLiteStore:
    """A read view of the current snapshot that follows publishes and live edits.

    :meth:`maybe_reload` is called once per request but does real work at most once per
    ``check_interval`` seconds: one ``stat()`` of ``CURRENT`` (new snapshot published?) and one
    ``PRAGMA data_version`` (live edit committed by another process?). With ``prewarm``, a new
    snapshot's connection is warmed (:func:`prewarm`) in a thread and swapped in when ready.
    """

    def __init__(self, data_dir: str | Path, *, check_interval: float = 1.0, prewarm: bool = False) -> None:
        self._dir = SnapshotDir(data_dir)
        self._prewarm = prewarm
        self._warming: Future[tuple[sqlite3.Connection, tuple[int, int] | None, Path]] | None = None
        self._check_interval = check_interval
        self._next_check = 0.0
        self._conn: sqlite3.Connection | None = None
        self._stamp: tuple[int, int] | None = None
        self._data_version = -1
        self._taxonomy = Taxonomy()
        self._ip_lengths: frozenset[int] = frozenset()
        self._info = SnapshotInfo(0, 0.0, 0, 0, "")
        self._sql_cache: dict[tuple[int, bool, bool], str] = {}
        self._any_classifying = False
        self._any_links = False
        self._context_cache: dict[str, _Remembered | None] = {}
        self._open()

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
            if n <= EQUALITY_TERMS:
                parts = [f"SELECT {tag}, key, {value} FROM {table} WHERE key = ?"
                         for table, tag, value in tables for _ in range(n)]
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
        """
        result = LookupResult()
        if not keys or self._conn is None:
            return result
        with_classifying = classifying and self._any_classifying
        cache = None if with_classifying else self._context_cache
        hits = result.hits
        ask: list[str] = []
        for key in keys[: schema.MAX_KEYS_PER_LOOKUP]:
            if cache is not None and key.startswith(CONTEXTUAL_PREFIXES):
                known = cache.get(key, _UNKNOWN)
                if known is None:
                    continue  # remembered miss
                if known is not _UNKNOWN:
                    if now >= known[2]:  # a membership expired since: decode again
                        live, until = schema.live_segments_until(known[0], now)
                        known = cache[key] = (known[0], live, until)
                    if known[1]:
                        hits[key] = known[1]
                    continue
            ask.append(key)
        if ask:
            self._query(ask, now, result, cache, with_classifying, links and self._any_links)
        return result

    def _query(self, ask: list[str], now: float, result: LookupResult, cache: dict[str, _Remembered | None] | None,
               with_classifying: bool, with_links: bool) -> None:
        params = tuple(ask) * (1 + with_classifying + with_links)
        found: set[str] = set()
        assert self._conn is not None
        for table, key, value in self._conn.execute(self._sql(len(ask), with_classifying, with_links), params):
            if table == 0:
                found.add(key)
                live, until = schema.live_segments_until(value, now)
                if live:
                    result.hits[key] = live
                if cache is not None and key.startswith(CONTEXTUAL_PREFIXES):
                    cache[key] = (value, live, until)
            elif table == 1:
                result.classifying.add(key)
            else:
                result.links[key] = schema.decode_links(value)
        if cache is not None:
            if len(cache) > CONTEXT_CACHE_SIZE:
                cache.clear()  # crude but O(1) per request: an LRU's bookkeeping costs more than a refill
            for key in ask:
                if key not in found and key.startswith(CONTEXTUAL_PREFIXES):
                    cache[key] = None

    def reload(self) -> bool:
        """Check for a new snapshot or live edits now (``/admin/reload``), not at the next interval."""
        self._discard_warming()
        if self._dir.pointer_stamp() != self._stamp:
            self._open()  # here and now, prewarm included: the caller asked to wait for it
            self._next_check = time.monotonic() + self._check_interval
            return True
        self._next_check = 0.0
        return self.maybe_reload()

    def maybe_reload(self) -> bool:
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self._check_interval
        if self._warming is not None:
            return self._adopt_warmed()
        if self._dir.pointer_stamp() != self._stamp:
            if self._prewarm and self._conn is not None:
                # Warm the new snapshot's connection off the event loop; the old one serves meanwhile.
                self._warming = _in_thread(self._connect)
                return False
            self._open()
            return True
        if self._conn is not None:
            return self._renew_read(self._conn)
        return False

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
            self._load_metadata(conn, self._info.path)
            return True
        finally:
            if not conn.in_transaction:
                conn.execute("BEGIN")

    def _open(self) -> None:
        self._adopt(*self._connect())

    def _connect(self) -> tuple[sqlite3.Connection, tuple[int, int] | None, Path]:
        stamp = self._dir.pointer_stamp()
        path = self._dir.current_path()
        if path is None:
            raise NoSnapshot(f"no snapshot in {self._dir.root}; run `segment-server load` first")
        conn = open_reader(path)
        if self._prewarm:
            try:
                prewarm(conn)
            except sqlite3.Error:
                conn.close()
                raise
        return conn, stamp, path

    def _adopt(self, conn: sqlite3.Connection, stamp: tuple[int, int] | None, path: Path) -> None:
        try:
            self._load_metadata(conn, str(path))
            (self._data_version,) = conn.execute("PRAGMA data_version").fetchone()
            conn.execute("BEGIN")  # the held read transaction (see _renew_read); deferred, so no lock yet
        except sqlite3.Error:
            conn.close()
            raise
        old, self._conn, self._stamp = self._conn, conn, stamp
        self._sql_cache.clear()
        if old is not None:
            old.close()

    def _adopt_warmed(self) -> bool:
        warming = self._warming
        if warming is None or not warming.done():
            return False
        self._warming = None
        try:
            self._adopt(*warming.result())
        except (sqlite3.Error, StoreError) as exc:  # keep serving the old snapshot; retry next interval
            log.warning("store.reload_failed", error=str(exc))
            return False
        return True

    def _discard_warming(self) -> None:
        warming, self._warming = self._warming, None
        if warming is not None:
            with contextlib.suppress(sqlite3.Error, StoreError):
                warming.result()[0].close()

    def _load_metadata(self, conn: sqlite3.Connection, path: str) -> None:
        meta = dict(conn.execute("SELECT name, value FROM meta"))
        segments: dict[str, Segment] = {}
        for seg_id, data in conn.execute("SELECT id, data FROM segments"):
            segments[seg_id] = segment_from_row(orjson.loads(data))
        self._taxonomy = Taxonomy(segments)
        self._context_cache = {}  # a new snapshot or a live edit: remembered values may be stale
        self._any_classifying = _any_rows(conn, "classifying")
        self._any_links = _any_rows(conn, "links")
        lengths = meta.get("ip_prefix_lengths", "")
        self._ip_lengths = frozenset(int(x) for x in lengths.split(",") if x)
        self._info = SnapshotInfo(
            version=int(meta.get("version", 0)),
            created_at=float(meta.get("created_at", 0.0)),
            members=int(meta.get("members", 0)),
            segments=len(segments),
            path=path,
        )

    def close(self) -> None:
        self._discard_warming()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _any_rows(conn: sqlite3.Connection, table: str) -> bool:
    try:
        return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0])
    except sqlite3.OperationalError:  # a snapshot written before the table existed
        return False
