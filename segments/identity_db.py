"""``<data_dir>/identity.sqlite``: DII hash → raw UID2, the DII's memberships, cursors, job status.

This file, not the serving snapshot, is the source of truth for DII-keyed data: the snapshot only
holds what it derives (``uid2:<u>`` plus 90-day ``uid2:<p>`` aliases), so a remap can re-key a
user from here. The two files cannot share a transaction, so every job writes the snapshot first
(idempotent upserts and re-keys) and commits here second: a crash in between leaves the DII still
selected (pending, ``r`` passed, bucket newer than its mapping, opt-out cursor not advanced) and
the next run repeats the same, harmless writes. Raw DII never reaches this file, only hashes.

Tables: ``dii`` (one row per DII hash), ``dii_members`` (its segments), ``aliases`` (old raw
UID2s kept until a date), ``optouts`` (append-only, read by :class:`~.optout_index.OptOutIndex`),
``buckets`` (v2 rotated buckets still to process), ``cursors`` and ``jobs``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from segments.sqlite_tx import immediate

__all__ = ["FILENAME", "IdentityDB", "LoadSession", "Outcome", "Pending", "Reason"]

Reason = str  # "optout", "invalid identifier", or "unknown:<text>" for a reason UID2 adds later

FILENAME = "identity.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS dii (
    did TEXT PRIMARY KEY,            -- "email_hash:<b64>" / "phone_hash:<b64>"
    state TEXT NOT NULL,             -- pending | mapped | unmapped
    uid TEXT, prev TEXT, refresh_at INTEGER, bucket TEXT, mapped_at REAL, reason TEXT
);
CREATE INDEX IF NOT EXISTS dii_state ON dii(state);
CREATE INDEX IF NOT EXISTS dii_refresh ON dii(refresh_at) WHERE state = 'mapped';
CREATE INDEX IF NOT EXISTS dii_bucket ON dii(bucket) WHERE state = 'mapped';
CREATE INDEX IF NOT EXISTS dii_uid ON dii(uid) WHERE state = 'mapped';
CREATE TABLE IF NOT EXISTS dii_members (
    did TEXT NOT NULL, seg TEXT NOT NULL, exp INTEGER, PRIMARY KEY (did, seg)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS aliases (uid TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS optouts (seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,
                                    since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (bucket TEXT PRIMARY KEY, last_updated REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (name TEXT PRIMARY KEY, state TEXT NOT NULL, started REAL,
                                 finished REAL, last_ok REAL, error TEXT, detail TEXT) WITHOUT ROWID;
"""
Members = dict[str, int | None]


@dataclass(frozen=True, slots=True)
class Pending:
    """A DII to (re)map, with the raw UID2 it had (None before its first mapping)."""

    did: str
    uid: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the operator said about one DII: mapped (``uid`` set) or unmapped (``reason`` set).

    ``prev`` is v3's ``p`` (the raw UID2 before a rotation in the last 90 days); ``refresh_at`` is
    v3's ``r`` in epoch seconds; ``bucket`` is v2's salt bucket id.
    """

    did: str
    uid: str | None = None
    prev: str | None = None
    refresh_at: int | None = None
    bucket: str | None = None
    reason: Reason | None = None


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None)
    else:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class IdentityDB:
    def __init__(self, data_dir: str | Path) -> None:
        root = Path(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / FILENAME
        self._conn = connect(self.path)
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with immediate(self._conn) as conn:
            yield conn

    # -- selection (what the jobs work on) ----------------------------------------------------

    def pending(self, limit: int) -> list[Pending]:
        rows = self._conn.execute("SELECT did, uid FROM dii WHERE state = 'pending' ORDER BY did LIMIT ?",
                                  (limit,))
        return [Pending(did, uid) for did, uid in rows]

    def due_for_refresh(self, now: float, limit: int) -> list[Pending]:
        """v3: mapped DII whose ``r`` has passed (or that a v2 mapping left without one)."""
        rows = self._conn.execute(
            "SELECT did, uid FROM dii WHERE state = 'mapped' AND (refresh_at IS NULL OR refresh_at <= ?)"
            " ORDER BY refresh_at, did LIMIT ?", (now, limit))
        return [Pending(did, uid) for did, uid in rows]

    def stale_in_bucket(self, bucket: str, last_updated: float, limit: int) -> list[Pending]:
        rows = self._conn.execute(
            "SELECT did, uid FROM dii WHERE state = 'mapped' AND bucket = ? AND mapped_at < ?"
            " ORDER BY did LIMIT ?",
            (bucket, last_updated, limit))
        return [Pending(did, uid) for did, uid in rows]

    def without_bucket(self, limit: int) -> list[Pending]:
        """v2: mapped DII that a v3 mapping left without a bucket (the API was switched)."""
        rows = self._conn.execute(
            "SELECT did, uid FROM dii WHERE state = 'mapped' AND bucket IS NULL ORDER BY did LIMIT ?",
            (limit,))
        return [Pending(did, uid) for did, uid in rows]

    def mapped_uids_after(self, after: str, limit: int) -> list[str]:
        rows = self._conn.execute(
            "SELECT DISTINCT uid FROM dii WHERE state = 'mapped' AND uid > ? ORDER BY uid LIMIT ?",
            (after, limit))
        return [uid for (uid,) in rows]

    def dids_with_uids(self, uids: Sequence[str]) -> list[Pending]:
        out: list[Pending] = []
        for chunk in _chunks(list(uids), 900):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT did, uid FROM dii WHERE state = 'mapped' AND uid IN ({marks})", chunk)
            out.extend(Pending(did, uid) for did, uid in rows)
        return out

    def members_of(self, dids: Iterable[str]) -> dict[str, Members]:
        out: dict[str, Members] = {}
        for chunk in _chunks(list(dids), 900):
            marks = ",".join("?" * len(chunk))
            for did, seg, exp in self._conn.execute(
                    f"SELECT did, seg, exp FROM dii_members WHERE did IN ({marks})", chunk):
                out.setdefault(did, {})[seg] = exp
        return out

    def prev_of(self, dids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(dids), 900):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT did, prev FROM dii WHERE prev IS NOT NULL AND did IN ({marks})", chunk)
            out.update(rows)
        return out

    def is_current_uid(self, uid: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM dii WHERE state = 'mapped' AND uid = ? LIMIT 1",
                                 (uid,)).fetchone()
        return row is not None

    # -- recording results -------------------------------------------------------------------

    def record_outcomes(self, conn: sqlite3.Connection, outcomes: Sequence[Outcome],
                        old: dict[str, str | None], *, now: float, alias_until: float) -> None:
        """Inside ``transaction()``: store mappings, aliases and unmapped reasons for one batch."""
        for o in outcomes:
            previous = old.get(o.did)
            if o.uid is None:
                conn.execute("UPDATE dii SET state = 'unmapped', reason = ?, uid = NULL, mapped_at = ?"
                             " WHERE did = ?", (o.reason, now, o.did))
                continue
            aliases = {a for a in (previous, o.prev) if a and a != o.uid}
            conn.executemany("INSERT INTO aliases(uid, until) VALUES (?, ?) ON CONFLICT(uid) DO NOTHING",
                             [(a, alias_until) for a in aliases])
            conn.execute(
                "UPDATE dii SET state = 'mapped', uid = ?,"
                " prev = coalesce(?, CASE WHEN uid != ? THEN uid END, prev), refresh_at = ?, bucket = ?,"
                " mapped_at = ?, reason = NULL WHERE did = ?",
                (o.uid, o.prev, o.uid, o.refresh_at, o.bucket, now, o.did))

    def alias_until(self, uids: Iterable[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for chunk in _chunks(list(uids), 900):
            marks = ",".join("?" * len(chunk))
            out.update(self._conn.execute(f"SELECT uid, until FROM aliases WHERE uid IN ({marks})", chunk))
        return out

    def expired_aliases(self, now: float, limit: int) -> list[str]:
        rows = self._conn.execute("SELECT uid FROM aliases WHERE until <= ? ORDER BY until LIMIT ?",
                                  (now, limit))
        return [uid for (uid,) in rows]

    def drop_aliases(self, uids: Sequence[str]) -> None:
        with self.transaction() as conn:
            conn.executemany("DELETE FROM aliases WHERE uid = ?", [(u,) for u in uids])
            conn.executemany("UPDATE dii SET prev = NULL WHERE prev = ?", [(u,) for u in uids])

    def add_optouts(self, items: Iterable[tuple[str, float]]) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT INTO optouts(uid, since) VALUES (?, ?) ON CONFLICT(uid) DO NOTHING",
                             items)

    # -- v2 buckets, cursors, job status -----------------------------------------------------

    def add_buckets(self, conn: sqlite3.Connection, buckets: Iterable[tuple[str, float]]) -> None:
        conn.executemany("INSERT INTO buckets(bucket, last_updated) VALUES (?, ?)"
                         " ON CONFLICT(bucket) DO UPDATE"
                         " SET last_updated = max(last_updated, excluded.last_updated)", buckets)

    def open_buckets(self) -> list[tuple[str, float]]:
        return list(self._conn.execute("SELECT bucket, last_updated FROM buckets ORDER BY bucket"))

    def close_bucket(self, bucket: str, last_updated: float) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM buckets WHERE bucket = ? AND last_updated = ?", (bucket, last_updated))

    def cursor(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_cursor(self, conn: sqlite3.Connection, name: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO cursors(name, value) VALUES (?, ?)", (name, value))

    def job_started(self, name: str, now: float) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO jobs(name, state, started) VALUES (?, 'running', ?)"
                         " ON CONFLICT(name) DO UPDATE SET state = 'running', started = excluded.started",
                         (name, now))

    def job_finished(self, name: str, now: float, *, error: str | None, detail: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE jobs SET state = ?, finished = ?, error = ?, detail = ?,"
                         " last_ok = CASE WHEN ? IS NULL THEN ? ELSE last_ok END WHERE name = ?",
                         ("failed" if error else "ok", now, error, orjson.dumps(detail).decode(), error, now,
                          name))

    def job_status(self) -> dict[str, dict[str, Any]]:
        cols = ("state", "started", "finished", "last_ok", "error", "detail")
        out: dict[str, dict[str, Any]] = {}
        for name, *values in self._conn.execute(f"SELECT name, {', '.join(cols)} FROM jobs ORDER BY name"):
            status = dict(zip(cols, values, strict=True))
            status["detail"] = orjson.loads(status["detail"]) if status["detail"] else {}
            out[name] = status
        return out

    def counts(self) -> dict[str, int]:
        """Rows per state, and unmapped rows per reason (``unmapped:optout``)."""
        out = {"pending": 0, "mapped": 0}
        counts = self._conn.execute("SELECT state, reason, count(*) FROM dii GROUP BY state, reason")
        for state, reason, n in counts:
            key = state if state != "unmapped" else f"unmapped:{reason}"
            out[key] = out.get(key, 0) + n
        out["optouts"] = self._conn.execute("SELECT count(*) FROM optouts").fetchone()[0]
        return out

    def load_session(self, *, replace: bool = False) -> LoadSession:
        return LoadSession(self, replace=replace)


class LoadSession:
    """The loader's side: record DII rows in one transaction, committed after the snapshot publishes.

    ``add`` returns the DII's current raw UID2 and alias (if already mapped) so the loader can
    write ``uid2:<u>`` memberships into the snapshot it is building — a known user's new segments
    serve at once, and a ``replace`` load keeps serving mapped users.
    """

    def __init__(self, db: IdentityDB, *, replace: bool) -> None:
        self._conn = connect(db.path)
        self._conn.execute("BEGIN IMMEDIATE")
        if replace:
            self._conn.execute("DELETE FROM dii_members")
        self.new = 0

    def add(self, did: str, segments: Sequence[str], expires: int | None
            ) -> tuple[str | None, str | None, float | None]:
        """Record one row; return ``(uid, alias, alias_until)`` for a mapped DII, else Nones."""
        cur = self._conn.execute(
            "INSERT INTO dii(did, state) VALUES (?, 'pending') ON CONFLICT(did) DO NOTHING", (did,))
        self.new += cur.rowcount
        self._conn.executemany("INSERT OR REPLACE INTO dii_members(did, seg, exp) VALUES (?, ?, ?)",
                               [(did, s, expires) for s in segments])
        row = self._conn.execute(
            "SELECT d.uid, d.prev, a.until FROM dii d LEFT JOIN aliases a ON a.uid = d.prev"
            " WHERE d.did = ? AND d.state = 'mapped'", (did,)).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def commit(self) -> None:
        self._conn.execute("COMMIT")
        self._conn.close()

    def rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")
        self._conn.close()


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
