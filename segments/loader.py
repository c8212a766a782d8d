"""Bulk loads: build a complete snapshot aside, then publish it atomically.

``merge`` (default) starts from a copy of the serving snapshot and adds the files' rows, so
loading the same file twice gives the same state. ``replace`` starts empty (taxonomy kept unless
new taxonomy files are given). Rows are first appended to an unindexed staging table, then read
back sorted by key — SQLite's external sort does the heavy lifting, so 10 M keys need neither
10 M random B-tree inserts nor 10 M Python dicts in memory.

DII rows (email / phone and their hashes) do not become snapshot keys: they are recorded in the
UID2 identity table (``<data_dir>/identity.sqlite``) for the mapping job, in one transaction
committed only after the snapshot publishes. A DII that is already mapped also gets its
``uid2:<raw UID2>`` (and 90-day alias) memberships in this very snapshot. A ``replace`` load
clears the DII memberships too, so a later remap cannot bring back replaced data.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import orjson

from segments import keys as K
from segments.rows import DiiMembership, Membership, Rejected, iter_memberships, iter_taxonomy
from segments.store import schema
from segments.store.snapshots import SnapshotDir, write_meta

if TYPE_CHECKING:
    from server.uid2.identity.mapping import LoadSession

Mode = Literal["merge", "replace"]
BATCH = 50_000


@dataclass(slots=True)
class LoadReport:
    version: int = 0
    rows: int = 0
    keys: int = 0
    segments: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    seconds: float = 0.0
    path: str = ""
    dii_rows: int = 0  # rows keyed by email/phone (hashes), recorded for UID2 mapping
    dii_new: int = 0  # DII seen for the first time: waiting for the mapping job


class LoadError(Exception):
    """The load could not run at all (bad file type, unreadable file); nothing was published."""


def load(
    data_dir: str | Path,
    membership_files: Sequence[Path] = (),
    taxonomy_files: Sequence[Path] = (),
    *,
    mode: Mode = "merge",
    progress: Callable[[int], None] | None = None,
    memberships: Iterable[Membership] = (),
) -> LoadReport:
    """Load files (and/or in-memory ``memberships``) into a new snapshot and publish it."""
    started = time.perf_counter()
    snapdir = SnapshotDir(data_dir)
    report = LoadReport()
    dii = _DiiRouter(Path(data_dir), replace=mode == "replace")
    with snapdir.write_lock():
        version = snapdir.next_version()
        staging = snapdir.staging_path(version)
        current = snapdir.current_path()
        conn = sqlite3.connect(staging)
        try:
            if current is not None:
                src = sqlite3.connect(f"file:{current}?mode=ro", uri=True)
                try:
                    src.backup(conn)
                finally:
                    src.close()
            _tune_for_build(conn)
            schema.create(conn)
            if mode == "replace":
                conn.execute("DELETE FROM members")
                conn.execute("DELETE FROM classifying")
                conn.execute("DELETE FROM links")
                if taxonomy_files:
                    conn.execute("DELETE FROM segments")
            _load_taxonomy(conn, taxonomy_files, report)
            known = {sid for (sid,) in conn.execute("SELECT id FROM segments")}
            _stage(conn, _memberships(membership_files, memberships, report), known, report, progress, dii)
            report.keys = _merge_staged(conn, fresh=mode == "replace")
            _merge_links(conn)
            members = conn.execute("SELECT count(*) FROM members").fetchone()[0]
            write_meta(conn, version=version, members=members)
            report.segments = len(known)
            conn.commit()
            conn.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            conn.close()
            staging.unlink(missing_ok=True)
            dii.rollback()
            raise
        conn.close()
        try:
            report.path = str(snapdir.publish(staging, version))
        except BaseException:
            dii.rollback()
            raise
        report.dii_new = dii.commit()
        report.version = version
        snapdir.prune()
    report.seconds = time.perf_counter() - started
    return report


def _tune_for_build(conn: sqlite3.Connection) -> None:
    # The staging file is private until published: no journal, no fsync per statement.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("PRAGMA temp_store=FILE")
    # One staged row per input row (key, its encoded memberships), not per segment: 5× fewer rows to
    # insert and sort for a typical file, and a key seen once needs no decode/re-encode to merge.
    conn.execute("CREATE TEMP TABLE incoming (key TEXT NOT NULL, segs BLOB NOT NULL)")
    conn.execute("CREATE TEMP TABLE incoming_links (key TEXT NOT NULL, uid TEXT NOT NULL)")


def _load_taxonomy(conn: sqlite3.Connection, files: Sequence[Path], report: LoadReport) -> None:
    rows = []
    for path in files:
        for item in iter_taxonomy(Path(path)):
            if isinstance(item, Rejected):
                report.rejected.append(item)
            else:
                rows.append((item.id, orjson.dumps(item.as_dict())))
    conn.executemany("INSERT OR REPLACE INTO segments(id, data) VALUES (?, ?)", rows)


class _DiiRouter:
    """Sends DII rows to the identity table; opened on the first DII row (or by a replace load)."""

    def __init__(self, data_dir: Path, *, replace: bool) -> None:
        self._data_dir = data_dir
        self._replace = replace
        self._session: LoadSession | None = None
        if replace and (data_dir / "identity.sqlite").exists():
            self._open()

    def _open(self) -> LoadSession:
        if self._session is None:
            from server.uid2.identity.mapping import IdentityDB

            db = IdentityDB(self._data_dir)
            self._session = db.load_session(replace=self._replace)
            db.close()
        return self._session

    def route(self, item: DiiMembership) -> list[tuple[str, str, int | None]]:
        """Record the row; return staged (key, segment, expires) rows if the DII is already mapped."""
        uid, alias, until = self._open().add(item.did, item.segments, item.expires)
        if uid is None:
            return []
        rows = [(K.make(K.UID2, uid), seg, item.expires) for seg in item.segments]
        if alias and until:
            cap = int(until)
            rows += [(K.make(K.UID2, alias), seg, cap if item.expires is None else min(item.expires, cap))
                     for seg in item.segments]
        return rows

    def commit(self) -> int:
        if self._session is None:
            return 0
        self._session.commit()
        return self._session.new

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()


def _memberships(files: Sequence[Path], extra: Iterable[Membership], report: LoadReport
                 ) -> Iterator[Membership | DiiMembership | Rejected]:
    for path in files:
        yield from iter_memberships(Path(path))
    yield from extra


def _stage(conn: sqlite3.Connection, items: Iterable[Membership | DiiMembership | Rejected], known: set[str],
           report: LoadReport, progress: Callable[[int], None] | None, dii: _DiiRouter) -> None:
    batch: list[tuple[str, bytes]] = []
    for item in items:
        if isinstance(item, Rejected):
            report.rejected.append(item)
            continue
        unknown = [s for s in item.segments if s not in known]
        if unknown:
            report.rejected.append(Rejected(item.path or "(memberships)", item.line,
                                            f"unknown segment id(s) {unknown[:3]}: load the taxonomy first"))
            continue
        report.rows += 1
        if isinstance(item, DiiMembership):
            report.dii_rows += 1
            batch.extend(_per_key(dii.route(item)))
        else:
            batch.append((item.key, schema.encode(dict.fromkeys(item.segments, item.expires))))
            if item.xandr_id is not None:
                conn.execute("INSERT INTO incoming_links VALUES (?, ?)", (item.key, item.xandr_id))
        if len(batch) >= BATCH:
            conn.executemany("INSERT INTO incoming VALUES (?, ?)", batch)
            batch.clear()
            if progress:
                progress(report.rows)
    conn.executemany("INSERT INTO incoming VALUES (?, ?)", batch)
    if progress:
        progress(report.rows)


def _per_key(rows: list[tuple[str, str, int | None]]) -> Iterator[tuple[str, bytes]]:
    by_key: dict[str, dict[str, int | None]] = {}
    for key, seg, exp in rows:
        by_key.setdefault(key, {})[seg] = exp
    return ((key, schema.encode(entries)) for key, entries in by_key.items())


def _merge_staged(conn: sqlite3.Connection, *, fresh: bool = False) -> int:
    """Fold staged rows into ``members``, one row per key, in key order.

    ``fresh`` (a replace load: ``members`` was emptied) skips looking for an existing row per key.
    """
    reader = conn.cursor()
    rows = reader.execute("SELECT key, segs FROM incoming ORDER BY key, rowid")
    lookup = conn.cursor()

    def merged() -> Iterator[tuple[str, bytes]]:
        for key, group in itertools.groupby(rows, key=lambda r: r[0]):
            blobs = [blob for _, blob in group]
            existing = None if fresh else lookup.execute("SELECT segs FROM members WHERE key = ?", (key,)).fetchone()
            if existing is None and len(blobs) == 1:
                yield key, blobs[0]
                continue
            entries: dict[str, int | None] = schema.decode(existing[0]) if existing is not None else {}
            for blob in blobs:  # in file order: a re-sent membership takes the later expiry
                entries = schema.merge(entries, schema.decode(blob))
            yield key, schema.encode(entries)

    count = 0
    writer = conn.cursor()
    for chunk in _chunks(merged(), BATCH):
        writer.executemany("INSERT OR REPLACE INTO members(key, segs) VALUES (?, ?)", chunk)
        count += len(chunk)
    conn.execute("DROP TABLE incoming")
    return count


def _merge_links(conn: sqlite3.Connection) -> None:
    """Fold staged id links into ``links`` (a set per key, merged with what the snapshot had)."""
    rows = conn.cursor().execute("SELECT key, uid FROM incoming_links ORDER BY key")
    lookup = conn.cursor()
    merged = []
    for key, group in itertools.groupby(rows, key=lambda r: r[0]):
        links: list[schema.Link] = [(uid, None) for _, uid in group]
        existing = lookup.execute("SELECT ids FROM links WHERE key = ?", (key,)).fetchone()
        if existing is not None:
            links += schema.decode_links(existing[0])
        merged.append((key, schema.encode_links(links)))
    conn.executemany("INSERT OR REPLACE INTO links(key, ids) VALUES (?, ?)", merged)
    conn.execute("DROP TABLE incoming_links")


def _chunks(items: Iterator[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk

