"""Open a snapshot for reading only after it proved whole: header, size, ``quick_check``, metadata.

:class:`Opener` is what :class:`~segments.store.sqlite.SQLiteStore` calls on start, on a publish
and after a read error. It resolves the file through
:meth:`~segments.store.snapshots.SnapshotDir.resolve` (``CURRENT``'s file, else the newest good
one), and remembers the files it found damaged (by size and mtime) so a worker does not re-check
an unchanged broken file every interval.

Memory mapping (``[store] mmap``) is switched on only *after* the checks: a check reading a
truncated file through ``mmap`` would itself die of SIGBUS, while ``pread`` gets an error.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import orjson

from segments.store.base import SnapshotInfo
from segments.store.integrity import DamagedSnapshot, check_header, quick_check
from segments.store.snapshots import SnapshotDir
from segments.taxonomy import Segment, Taxonomy, segment_from_row

MMAP_BYTES = 1 << 36  # 64 GiB of address space: the whole file is mapped, the OS decides what is resident


def open_reader(path: Path, *, mmap: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, cached_statements=256)
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES if mmap else 0}")
    conn.execute("PRAGMA cache_size=-1024")  # 1 MiB private page cache; mmap (if on) does the rest
    return conn


def prewarm(conn: sqlite3.Connection) -> None:
    """Touch every page of the ``members`` tree through ``conn`` (its memory map, if on).

    A page read through mmap for the first time costs the process a page fault, even when the
    file is in the OS page cache; on a 10 M-key snapshot the first lookups of random users paid
    several (store benchmark, first pass: p99 22 µs; warmed: 15 µs). One ``count(*)`` walks
    every leaf once — 0.3 s for 10 M keys — and the pages stay shared with the other workers.
    """
    conn.execute("SELECT count(*) FROM members").fetchone()


@dataclass(frozen=True, slots=True)
class Meta:
    """What a reader keeps about its snapshot besides the connection (re-read on live edits)."""

    taxonomy: Taxonomy
    ip_lengths: frozenset[int]
    info: SnapshotInfo
    any_classifying: bool
    any_links: bool


def read_meta(conn: sqlite3.Connection, path: str) -> Meta:
    meta = dict(conn.execute("SELECT name, value FROM meta"))
    segments: dict[str, Segment] = {}
    for seg_id, data in conn.execute("SELECT id, data FROM segments"):
        segments[seg_id] = segment_from_row(orjson.loads(data))
    lengths = meta.get("ip_prefix_lengths", "")
    info = SnapshotInfo(version=int(meta.get("version", 0)), created_at=float(meta.get("created_at", 0.0)),
                        members=int(meta.get("members", 0)), segments=len(segments), path=path)
    return Meta(Taxonomy(segments), frozenset(int(x) for x in lengths.split(",") if x), info,
                _any_rows(conn, "classifying"), _any_rows(conn, "links"))


def _any_rows(conn: sqlite3.Connection, table: str) -> bool:
    try:
        return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0])
    except sqlite3.OperationalError:  # a snapshot written before the table existed
        return False


@dataclass(slots=True)
class Opened:
    """A checked snapshot, ready to serve. ``fd`` stays open for :func:`os.fstat` size checks."""

    conn: sqlite3.Connection
    stamp: tuple[int, int] | None  # CURRENT's (inode, mtime) when it was resolved
    path: Path
    problem: str | None  # why this is not CURRENT's file (None: it is)
    size: int
    fd: int
    meta: Meta

    def close(self) -> None:
        self.conn.close()
        os.close(self.fd)


class Opener:
    def __init__(self, snapdir: SnapshotDir, *, mmap: bool, verify: bool, prewarm: bool,
                 fallback: bool) -> None:
        self.dir = snapdir
        self.mmap = mmap
        self.verify = verify
        self.prewarm = prewarm
        self.fallback = fallback
        self._bad: dict[Path, tuple[tuple[int, int, int], str]] = {}  # path → (inode, size, mtime), reason

    def open(self) -> Opened:
        """The snapshot to serve, checked; raises :class:`StoreError` (naming the file) if none is."""
        stamp = self.dir.pointer_stamp()
        found: list[Opened] = []

        def check(path: Path) -> None:
            found.append(self._checked(path, stamp))

        resolved = self.dir.resolve(fallback=self.fallback, check=check)
        opened = found[-1]
        opened.problem = resolved.problem
        return opened

    def _checked(self, path: Path, stamp: tuple[int, int] | None) -> Opened:
        signature = _signature(path)
        known = self._bad.get(path)
        if known is not None and known[0] == signature:
            raise DamagedSnapshot(path, known[1])
        try:
            return self._open_checked(path, stamp)
        except DamagedSnapshot as exc:
            self._bad[path] = (signature, exc.reason)
            raise

    def _open_checked(self, path: Path, stamp: tuple[int, int] | None) -> Opened:
        size = check_header(path)
        try:
            conn = open_reader(path, mmap=False)
        except sqlite3.Error as exc:
            raise DamagedSnapshot(path, str(exc)) from None
        try:
            if self.verify:
                quick_check(conn, path)  # reads every page: the OS page cache is warm afterwards
            meta = read_meta(conn, str(path))
            if self.mmap:
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            if self.prewarm and (self.mmap or not self.verify):
                prewarm(conn)
            fd = os.open(path, os.O_RDONLY)
        except Exception as exc:  # noqa: BLE001 -- any failure to read it means the file is not usable
            conn.close()
            raise DamagedSnapshot(path, f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return Opened(conn, stamp, path, None, size, fd, meta)


def _signature(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns)
