"""The store benchmark's LMDB candidate (issue 21): the same data, the same batched lookup.

:func:`build` copies a loaded SQLite snapshot's ``members`` table into an LMDB environment (keys
arrive in key order, so every ``put`` is an append); :class:`LMDBReader` answers
:meth:`lookup` exactly as :class:`segments.store.sqlite.SQLiteStore` does — contextual keys
remembered per reader until their earliest expiry, user keys read every time, expired
memberships dropped — through one held read transaction and one ``Cursor.getmulti`` per batch.
It is a measuring device, not a backend: it has no publish, reload, live edits or fault handling
(see :func:`truncation_probe` for what a truncated file does to it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lmdb

from segments.bounded import BoundedCache
from segments.store import schema
from segments.store.base import LookupResult
from segments.store.sqlite import CONTEXT_CACHE_SIZE, CONTEXT_KEY_MAX, CONTEXTUAL_PREFIXES

_Remembered = tuple[bytes, list[str], float]
_MISS: _Remembered = (b"", [], float("inf"))  # a remembered miss, as in SQLiteStore
COMMIT_EVERY = 1_000_000  # rows per write transaction while building (bounds the dirty-page list)


def build(snapshot: Path, out_dir: Path) -> dict[str, Any]:
    """``snapshot``'s ``members`` rows → an LMDB environment in ``out_dir``; time and size."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    source = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    env = lmdb.open(str(out_dir), map_size=max(1 << 30, snapshot.stat().st_size * 4), subdir=True,
                    sync=False, metasync=False, lock=True, writemap=False, readahead=False)
    rows = 0
    try:
        txn = env.begin(write=True)
        for key, segs in source.execute("SELECT key, segs FROM members ORDER BY key"):
            txn.put(key.encode(), segs, append=True)
            rows += 1
            if rows % COMMIT_EVERY == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
        env.sync(True)
    finally:
        env.close()
        source.close()
    data = out_dir / "data.mdb"
    return {"build_seconds": round(time.perf_counter() - started, 2), "rows": rows,
            "file_bytes": data.stat().st_size}


def copy_sqlite(snapshot: Path, out: Path) -> dict[str, Any]:
    """The same rows written the same way into a fresh SQLite file (the snapshot's ``members``
    schema, key order, one transaction): the like-for-like build figure beside :func:`build`, as
    the loader's own time also covers parsing, validating and sorting the input."""
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(out)) as conn:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        schema.create(conn)
        conn.execute("ATTACH ? AS source", (f"file:{snapshot}?mode=ro",))
        conn.execute("INSERT INTO members(key, segs) SELECT key, segs FROM source.members ORDER BY key")
        conn.commit()
    seconds = time.perf_counter() - started
    size = out.stat().st_size
    out.unlink()
    return {"build_seconds": round(seconds, 2), "file_bytes": size}


class LMDBReader:
    """A read view of one LMDB environment with :class:`SQLiteStore`'s lookup semantics."""

    def __init__(self, path: Path, *, prewarm: bool = True) -> None:
        # lock=False: the environment is immutable once built (as a published snapshot would be),
        # so readers need no lock file; readahead=False: lookups are random, not sequential.
        self._env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, subdir=True)
        self._txn = self._env.begin(buffers=False)
        self._cursor = self._txn.cursor()
        self._context_cache: BoundedCache[str, _Remembered] = BoundedCache(CONTEXT_CACHE_SIZE,
                                                                            CONTEXT_KEY_MAX)
        if prewarm:  # as SQLiteStore's prewarm: every leaf page mapped once, no first-touch faults later
            self._cursor.first()
            for _ in self._cursor.iternext(keys=True, values=False):
                pass

    def lookup(self, keys: Sequence[str], now: float, *, classifying: bool = True,
               links: bool = False) -> LookupResult:
        result = LookupResult()
        cache = self._context_cache
        hits = result.hits
        ask: list[bytes] = []
        for key in keys[: schema.MAX_KEYS_PER_LOOKUP]:
            if key.startswith(CONTEXTUAL_PREFIXES):
                known = cache.get(key)
                if known is not None:
                    if now >= known[2]:
                        live, until = schema.live_segments_until(known[0], now)
                        known = (known[0], live, until)
                        cache.put(key, known, len(key))
                    if known[1]:
                        hits[key] = known[1]
                    continue
            ask.append(key.encode())
        if ask:
            found: set[str] = set()
            for raw, value in self._cursor.getmulti(ask):
                key = raw.decode()
                found.add(key)
                live, until = schema.live_segments_until(value, now)
                if live:
                    hits[key] = live
                if key.startswith(CONTEXTUAL_PREFIXES):
                    cache.put(key, (value, live, until), len(key))
            for raw in ask:
                key = raw.decode()
                if key not in found and key.startswith(CONTEXTUAL_PREFIXES):
                    cache.put(key, _MISS, len(key))
        return result

    def close(self) -> None:
        self._txn.abort()
        self._env.close()


# A reader in a child process: open, read, (``while_serving``) the file is cut under it, read all.
_PROBE = """
import os, sys, lmdb
path, when = sys.argv[1], sys.argv[2]
data = os.path.join(path, "data.mdb")
if when == "before_open":
    os.truncate(data, os.path.getsize(data) // 2)
env = lmdb.open(path, readonly=True, lock=False, readahead=False, subdir=True)
with env.begin() as txn:
    txn.get(b"uid2:")
    print("opened and read", flush=True)
    if when == "while_serving":
        os.truncate(data, os.path.getsize(data) // 2)
    print("read", sum(1 for _ in txn.cursor()), "entries", flush=True)
"""
PROBE_ROWS = 50_000


def truncation_probe(snapshot: Path, work: Path) -> dict[str, dict[str, Any]]:
    """What a worker reading LMDB sees when its file is cut to half, before it opens it and while it
    reads: an error naming the file, or a signal that kills the process? Each case runs in a child
    on a fresh small environment (the first :data:`PROBE_ROWS` keys of ``snapshot``)."""
    out: dict[str, dict[str, Any]] = {}
    for when in ("before_open", "while_serving"):
        env_dir = work / f"probe-{when}"
        _build_rows(snapshot, env_dir, PROBE_ROWS)
        child = subprocess.run([sys.executable, "-c", _PROBE, str(env_dir), when], capture_output=True,
                               text=True, timeout=120, check=False)
        out[when] = {"returncode": child.returncode,
                     "killed_by_signal": -child.returncode if child.returncode < 0 else None,
                     "stdout": child.stdout.strip()[-200:], "stderr": child.stderr.strip()[-300:]}
    return out


def _build_rows(snapshot: Path, out_dir: Path, limit: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)) as source:
        rows = source.execute("SELECT key, segs FROM members ORDER BY key LIMIT ?", (limit,)).fetchall()
    env = lmdb.open(str(out_dir), map_size=1 << 28, subdir=True)
    with env.begin(write=True) as txn:
        for key, segs in rows:
            txn.put(key.encode(), segs, append=True)
    env.close()
