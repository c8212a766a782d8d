"""Bulk loads: build a complete snapshot aside, then publish it atomically.

``merge`` (default) starts from a copy of the serving snapshot and adds the files' rows, so
loading the same file twice gives the same state. ``replace`` starts a fresh file that keeps the
taxonomy (unless new taxonomy files are given), ``meta`` and any table it does not know; members,
links and classifying keys are not copied only to be deleted.

Issue #3 asks 10 M users x 5 segments in <= 120 s; measured 85-88 s on 2 vCPUs (was 150 s): about
60 s reading and staging, 26 s sorting and writing ``members``. Parsing is most of the per-row
cost (see :func:`segments.rows.parse_row`); then each row is appended, encoded, to an
unindexed temp table, and ONE ``INSERT ... SELECT ... ORDER BY key ON CONFLICT`` lets SQLite's
external sorter order the rows and append them to ``members`` in key order, all in C. Python
only sees the rare key that occurs twice (the ``merge_segs`` function). Sorting in Python
instead (sorted runs spilled to files, ``heapq.merge``) measured slower: it costs about what the
temp table and SQLite's sort cost, and the rows must then still cross into SQLite one by one.

Memory stays bounded whatever the file size: 50,000 staged rows at a time, SQLite's page cache
(256 MiB) and its sorter, which spills to temp files: 560 MB peak RSS for 10 M rows, 360 MB for 1 M.

DII rows (email / phone and their hashes) do not become snapshot keys: they are recorded in the
UID2 identity table (``<data_dir>/identity.sqlite``) for the mapping job, in one transaction
committed only after the snapshot publishes. A DII that is already mapped also gets its
``uid2:<raw UID2>`` (and 90-day alias) memberships in this very snapshot. A ``replace`` load
clears the DII memberships too, so a later remap cannot bring back replaced data.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import orjson

from segments import keys as K
from segments.reading import ReadPosition
from segments.rejects import RejectLimit, TooManyRejected
from segments.rows import DiiMembership, Membership, Rejected, Row, iter_rows, iter_taxonomy
from segments.store import schema
from segments.store.base import NoSnapshot, StoreError
from segments.store.integrity import quick_check
from segments.store.snapshots import SnapshotDir, write_meta

if TYPE_CHECKING:
    from segments.identity_db import LoadSession

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
    base: str = ""  # the snapshot a merge started from
    # e.g. CURRENT was damaged: merged onto the last good one
    warnings: list[str] = field(default_factory=list)


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
    max_rejected: RejectLimit | None = None,
    progress_bytes: Callable[[int], None] | None = None,
) -> LoadReport:
    """Load files (and/or in-memory ``memberships``) into a new snapshot and publish it.

    ``max_rejected``: past it, :class:`TooManyRejected` and nothing is published (``None``: no
    limit; the CLI applies :meth:`RejectLimit.default`). ``progress`` gets the rows staged so far,
    ``progress_bytes`` the bytes of the input files read so far (see :func:`input_bytes`).
    Stale staging files of killed loads are removed first: this load holds the write lock, so
    no live loader owns them. The new file passes ``PRAGMA quick_check`` before it is published.
    """
    started = time.perf_counter()
    snapdir = SnapshotDir(data_dir)
    report = LoadReport()
    fresh = mode == "replace"
    dii = _DiiRouter(Path(data_dir), replace=fresh)
    with snapdir.write_lock(), _gc_paused():
        report.warnings += [f"removed {p.name}, left by a killed load" for p in snapdir.clean_stale()]
        base = _base(snapdir, fresh, report)
        version = snapdir.next_version()
        staging = snapdir.staging_path(version)
        conn = sqlite3.connect(staging)
        try:
            _start_build(conn, base, fresh=fresh, new_taxonomy=bool(taxonomy_files))
            _load_taxonomy(conn, taxonomy_files, report)
            known = {sid for (sid,) in conn.execute("SELECT id FROM segments")}
            reading = ReadPosition(progress_bytes)
            sources = _sources(membership_files, memberships, reading)
            _stage(conn, sources, known, report, progress, dii, reading)
            if max_rejected is not None and max_rejected.exceeded(len(report.rejected), report.rows):
                raise TooManyRejected(max_rejected, report.rows, report.rejected)
            report.keys, members = _fold_staged(conn, fresh=fresh)
            _merge_links(conn)
            write_meta(conn, version=version, members=members)
            report.segments = len(known)
            conn.commit()
            conn.execute("PRAGMA journal_mode=WAL")
            quick_check(conn, staging)  # never publish a file a reader would refuse
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


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC during a load: it allocates millions of short-lived, acyclic rows, and each
    collection would walk everything alive (the staged batch included) for nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _base(snapdir: SnapshotDir, fresh: bool, report: LoadReport) -> Path | None:
    """The snapshot to build on: CURRENT's, or (damaged) the newest good one, said in ``warnings``.

    A merge refuses to build on nothing when snapshots exist but none is readable; a replace
    starts fresh then (it only carries the taxonomy over).
    """
    try:
        resolved = snapdir.resolve(full=True)
    except NoSnapshot:
        return None
    except StoreError as exc:
        if not fresh:
            raise LoadError(f"cannot merge: {exc} (a --replace load starts a fresh snapshot)") from None
        report.warnings.append(f"{exc}; starting a fresh snapshot")
        return None
    if resolved.problem is not None:
        report.warnings.append(resolved.problem)
    report.base = str(resolved.path)
    return resolved.path


def _start_build(conn: sqlite3.Connection, current: Path | None, *, fresh: bool, new_taxonomy: bool) -> None:
    """Seed the private build file: a copy of ``current`` (merge), or a fresh file (replace)."""
    if current is not None and not fresh:
        src = sqlite3.connect(f"file:{current}?mode=ro", uri=True)
        try:
            src.backup(conn)
        finally:
            src.close()
    _tune_for_build(conn)
    schema.create(conn)
    if current is not None and fresh:
        skip = {"members", "classifying", "links", *(["segments"] if new_taxonomy else [])}
        _carry_over(conn, current, skip=skip)


def _carry_over(conn: sqlite3.Connection, current: Path, skip: set[str]) -> None:
    # Everything a replace keeps (taxonomy, meta, any table a newer version added), copied table by
    # table instead of copying the whole snapshot and then deleting millions of members from it.
    conn.execute("ATTACH DATABASE ? AS old", (str(current),))
    try:
        tables = conn.execute("SELECT name, sql FROM old.sqlite_master WHERE type = 'table' "
                              "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall()
        main_tables = conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")
        existing = {name for (name,) in main_tables}
        for name, sql in tables:
            if name in skip:
                continue
            if name not in existing:
                conn.execute(sql)
            conn.execute(f'INSERT INTO main."{name}" SELECT * FROM old."{name}"')
        conn.commit()
    finally:
        conn.execute("DETACH DATABASE old")


def _tune_for_build(conn: sqlite3.Connection) -> None:
    # The build file is private until published: no journal, no fsync per statement.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("PRAGMA temp_store=FILE")
    # One staged row per input row (key, its encoded memberships), not per segment: 5x fewer rows to
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
            from segments.identity_db import IdentityDB

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


Source = tuple[str, Iterable[tuple[int, Row | DiiMembership | Rejected]]]  # (file, (line, row) ...)


def _sources(files: Sequence[Path], extra: Iterable[Membership], reading: ReadPosition) -> Iterator[Source]:
    for path in files:
        yield str(path), _readable(Path(path), iter_rows(Path(path), reading.opened))
    for item in extra:
        row = (item.key, item.segments, item.expires, item.xandr_id)
        yield item.path or "(memberships)", [(item.line, row)]


RowItem = tuple[int, Row | DiiMembership | Rejected]


def _readable(path: Path, rows: Iterable[RowItem]) -> Iterator[RowItem]:
    """``rows`` as they come; a file that cannot be read to its end (a damaged or cut ``.gz``)
    is a :class:`LoadError` naming it, not a traceback — and nothing is published."""
    try:
        yield from rows
    except (OSError, EOFError, zlib.error) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise LoadError(f"{path}: cannot be read to its end ({problem}); nothing was published") from None


def _stage(conn: sqlite3.Connection, sources: Iterable[Source], known: set[str], report: LoadReport,
           progress: Callable[[int], None] | None, dii: _DiiRouter, reading: ReadPosition) -> None:
    """Append every accepted row, encoded, to ``incoming`` (links to ``incoming_links``)."""
    batch: list[tuple[str, bytes]] = []
    links: list[tuple[str, str]] = []
    count = 0
    for name, rows in sources:
        for line, row in rows:
            if isinstance(row, Rejected):
                report.rejected.append(row)
                continue
            segments = row.segments if isinstance(row, DiiMembership) else row[1]
            if not known.issuperset(segments):
                unknown = [s for s in segments if s not in known]
                report.rejected.append(Rejected(name, line, f"unknown segment id(s) {unknown[:3]}: "
                                                            "load the taxonomy first"))
                continue
            count += 1
            if isinstance(row, DiiMembership):
                report.dii_rows += 1
                batch.extend(_per_key(dii.route(row)))
            else:
                key, _, expires, xandr_id = row
                batch.append((key, encode(segments, expires)))
                if xandr_id is not None:
                    links.append((key, xandr_id))
            if len(batch) >= BATCH:
                _flush(conn, batch, links)
                report.rows = count
                if progress:
                    progress(count)
                reading.tick()
    _flush(conn, batch, links)
    report.rows = count
    if progress:
        progress(count)
    reading.tick()


def _flush(conn: sqlite3.Connection, batch: list[tuple[str, bytes]], links: list[tuple[str, str]]) -> None:
    conn.executemany("INSERT INTO incoming VALUES (?, ?)", batch)
    conn.executemany("INSERT INTO incoming_links VALUES (?, ?)", links)
    batch.clear()
    links.clear()


def encode(segments: tuple[str, ...], expires: int | None) -> bytes:
    """``schema.encode(dict.fromkeys(segments, expires))`` for distinct ids, without the dict.

    Byte-identical (a test pins it) and a third of the cost: every row of a file goes through here.
    """
    ordered = sorted(segments)
    return orjson.dumps(ordered if expires is None else [[sid, expires] for sid in ordered])


def _per_key(rows: list[tuple[str, str, int | None]]) -> Iterator[tuple[str, bytes]]:
    by_key: dict[str, dict[str, int | None]] = {}
    for key, seg, exp in rows:
        by_key.setdefault(key, {})[seg] = exp
    return ((key, schema.encode(entries)) for key, entries in by_key.items())


# Key order, then file order: a key's rows reach ``members`` in the order they were read, so a
# re-sent membership takes the later expiry, and merge_segs runs only for a key already there.
FOLD = """
INSERT INTO members(key, segs) SELECT key, segs FROM incoming WHERE true ORDER BY key, rowid
ON CONFLICT(key) DO UPDATE SET segs = merge_segs(members.segs, excluded.segs)
"""


def _fold_staged(conn: sqlite3.Connection, *, fresh: bool) -> tuple[int, int]:
    """Fold staged rows into ``members``, one row per key; returns (keys loaded, members now).

    ``fresh`` (a replace load: ``members`` starts empty) makes both counts "staged rows minus
    conflicts", saving a scan; a merge counts them with SQL.
    """
    conflicts = 0

    def merge_segs(old: bytes, new: bytes) -> bytes:
        nonlocal conflicts
        conflicts += 1
        return schema.encode(schema.merge(schema.decode(old), schema.decode(new)))

    conn.create_function("merge_segs", 2, merge_segs, deterministic=True)
    # Append-only, nothing deleted: rowids run 1..n, so max(rowid) is the count without a full scan.
    staged = conn.execute("SELECT coalesce(max(rowid), 0) FROM incoming").fetchone()[0]
    keys = None if fresh else conn.execute("SELECT count(DISTINCT key) FROM incoming").fetchone()[0]
    conn.execute(FOLD)
    if keys is None:
        return staged - conflicts, staged - conflicts
    return keys, conn.execute("SELECT count(*) FROM members").fetchone()[0]


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
