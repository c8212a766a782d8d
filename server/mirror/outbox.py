"""The durable outbox between the hot path and the sender: plain SQLite in WAL mode.

Why SQLite: one file in the data dir, shared by every uvicorn worker and the sender process,
transactions that survive ``kill -9`` of any of them (a committed WAL frame is on disk before
``commit()`` returns; ``synchronous=NORMAL`` can lose the last commits only on *power* loss —
set ``durable_fsync=True`` for ``FULL``). Writers batch many intents per transaction, so the
per-intent cost is a row insert, not an fsync.

Tables: ``intents`` (pending, in arrival order), ``dead_letters`` (with the reason), ``lease``
(which sender may drain), ``auths`` (timestamps, to keep the 10-per-5-minutes limit across
restarts), ``sent`` (per-minute delivered users, for sent/s) and ``meta`` (last reconciliation).
Every method is synchronous and thread-safe; async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segments.sqlite_tx import immediate
from server.mirror.types import Clock, Intent, SegBlock

SCHEMA = """
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL, domain TEXT,
    seg_id INTEGER, seg_code TEXT, member_id INTEGER, value INTEGER, expiration INTEGER,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL, domain TEXT,
    seg_id INTEGER, seg_code TEXT, member_id INTEGER, value INTEGER, expiration INTEGER,
    created REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL, message TEXT NOT NULL DEFAULT '', dead_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters(reason);
CREATE TABLE IF NOT EXISTS lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS auths (ts REAL NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent (minute INTEGER PRIMARY KEY, users INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = "user_id, domain, seg_id, seg_code, member_id, value, expiration, created, attempts"

#: (user_id, domain, block) — what producers hand to :meth:`Outbox.add_many`
Row = tuple[str, "str | None", SegBlock]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    oldest_age: float | None  # seconds; None when empty
    dead_letters: dict[str, int]
    sent_last_5min: int
    last_auth: tuple[float, str] | None  # (timestamp, result)
    lease_holder: str | None
    last_reconcile: str | None  # JSON, as stored by :mod:`server.mirror.reconcile`

    @property
    def sent_per_second(self) -> float:
        return self.sent_last_5min / 300.0


class Outbox:
    def __init__(self, data_dir: Path, clock: Clock = time.time, *, durable_fsync: bool = False) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "mirror-outbox.sqlite3"
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable_fsync else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- producers ---------------------------------------------------------------------------
    def add_many(self, rows: Iterable[Row]) -> int:
        """Append intents in one transaction (one fsync for the lot); returns how many."""
        now = self._clock()
        params = [(u, d, b.seg_id, b.seg_code, b.member_id, b.value, b.expiration, now, 0)
                  for u, d, b in rows]
        if not params:
            return 0
        with self._lock, immediate(self._db):
            self._db.executemany(f"INSERT INTO intents ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", params)
        return len(params)

    # -- the sender ----------------------------------------------------------------------------
    def fetch(self, limit: int) -> list[Intent]:
        """The oldest ``limit`` pending intents; they stay in the outbox until :meth:`delete`."""
        with self._lock:
            rows = self._db.execute(f"SELECT id, {_COLUMNS} FROM intents ORDER BY id LIMIT ?",
                                    (limit,)).fetchall()
        return [_intent(r) for r in rows]

    def delete(self, ids: Sequence[int]) -> None:
        self._in_tx(lambda: self._db.executemany("DELETE FROM intents WHERE id = ?", [(i,) for i in ids]))

    def bump_attempts(self, ids: Sequence[int]) -> None:
        self._in_tx(lambda: self._db.executemany(
            "UPDATE intents SET attempts = attempts + 1 WHERE id = ?", [(i,) for i in ids]))

    def dead_letter(self, ids: Sequence[int], reason: str, message: str = "") -> None:
        """Move intents to ``dead_letters`` atomically (never both pending and dead)."""
        now = self._clock()

        def move() -> None:
            for i in ids:
                self._db.execute(
                    f"INSERT OR REPLACE INTO dead_letters (id, {_COLUMNS}, reason, message, dead_at) "
                    f"SELECT id, {_COLUMNS}, ?, ?, ? FROM intents WHERE id = ?", (reason, message, now, i))
                self._db.execute("DELETE FROM intents WHERE id = ?", (i,))
        self._in_tx(move)

    def record_sent(self, users: int) -> None:
        minute = int(self._clock() // 60)
        self._in_tx(lambda: self._db.execute(
            "INSERT INTO sent (minute, users) VALUES (?, ?) "
            "ON CONFLICT(minute) DO UPDATE SET users = users + excluded.users", (minute, users)))

    # -- lease: one active sender across processes --------------------------------------------
    def acquire_lease(self, holder: str, ttl: float, name: str = "sender") -> bool:
        """Take or renew the lease; True if ``holder`` now owns it until ``now + ttl``.

        Wall-clock based because holders are different processes; a holder that dies (kill -9)
        simply stops renewing and another takes over after ``ttl``.
        """
        now = self._clock()
        with self._lock, immediate(self._db):
            row = self._db.execute("SELECT holder, expires FROM lease WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] >= now:
                return False
            self._db.execute("INSERT OR REPLACE INTO lease (name, holder, expires) VALUES (?, ?, ?)",
                             (name, holder, now + ttl))
        return True

    def release_lease(self, holder: str, name: str = "sender") -> None:
        self._in_tx(lambda: self._db.execute("DELETE FROM lease WHERE name = ? AND holder = ?",
                                             (name, holder)))

    # -- auth bookkeeping (the 10 / 5 min limit must survive restarts) -------------------------
    def record_auth(self, result: str) -> None:
        now = self._clock()

        def write() -> None:
            self._db.execute("INSERT INTO auths (ts, result) VALUES (?, ?)", (now, result))
            self._db.execute("DELETE FROM auths WHERE ts < ?", (now - 86_400,))
        self._in_tx(write)

    def auths_since(self, since: float, result: str = "ok") -> list[float]:
        with self._lock:
            rows = self._db.execute("SELECT ts FROM auths WHERE ts > ? AND result = ? ORDER BY ts",
                                    (since, result)).fetchall()
        return [r[0] for r in rows]

    # -- ops ----------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self._in_tx(lambda: self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                             (key, value)))

    def node_id(self) -> str:
        """This data dir's stable id (made once): names the node's forwarding mark in the engine."""
        with self._lock, immediate(self._db):
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('node_id', ?)",
                             (uuid.uuid4().hex,))
            row = self._db.execute("SELECT value FROM meta WHERE key = 'node_id'").fetchone()
        return str(row[0])

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def retry_dead_letters(self, reason: str | None = None) -> int:
        """Move dead letters (optionally of one reason) back to the tail of the outbox."""
        where, args = ("WHERE reason = ?", (reason,)) if reason else ("", ())
        moved = 0

        def move() -> None:
            nonlocal moved
            cur = self._db.execute(
                f"INSERT INTO intents ({_COLUMNS}) SELECT {_COLUMNS} FROM dead_letters {where} ORDER BY id",
                args)
            moved = cur.rowcount
            self._db.execute(f"DELETE FROM dead_letters {where}", args)
        self._in_tx(move)
        return moved

    def dead_letters(self, limit: int = 100) -> list[tuple[Intent, str, str]]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, {_COLUMNS}, reason, message FROM dead_letters ORDER BY id LIMIT ?",
                (limit,)).fetchall()
        return [(_intent(r[:10]), r[10], r[11]) for r in rows]

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM intents").fetchone()[0])

    def stats(self) -> OutboxStats:
        now = self._clock()
        with self._lock:
            depth, oldest = self._db.execute("SELECT COUNT(*), MIN(created) FROM intents").fetchone()
            dead = dict(self._db.execute(
                "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason").fetchall())
            sent = self._db.execute("SELECT COALESCE(SUM(users), 0) FROM sent WHERE minute >= ?",
                                    (int((now - 300) // 60),)).fetchone()[0]
            auth = self._db.execute("SELECT ts, result FROM auths ORDER BY ts DESC LIMIT 1").fetchone()
            lease = self._db.execute("SELECT holder FROM lease WHERE name = 'sender' AND expires >= ?",
                                     (now,)).fetchone()
            rec = self._db.execute("SELECT value FROM meta WHERE key = 'reconcile'").fetchone()
        return OutboxStats(depth=int(depth), oldest_age=None if oldest is None else max(0.0, now - oldest),
                           dead_letters={str(k): int(v) for k, v in dead.items()}, sent_last_5min=int(sent),
                           last_auth=None if auth is None else (float(auth[0]), str(auth[1])),
                           lease_holder=None if lease is None else str(lease[0]),
                           last_reconcile=None if rec is None else str(rec[0]))

    def _in_tx(self, work: Callable[[], object]) -> None:
        with self._lock, immediate(self._db):
            work()


def _intent(r: Sequence[Any]) -> Intent:
    def opt_int(v: Any) -> int | None:
        return None if v is None else int(v)

    return Intent(id=int(r[0]), user_id=str(r[1]), domain=None if r[2] is None else str(r[2]),
                  block=SegBlock(seg_id=opt_int(r[3]), seg_code=None if r[4] is None else str(r[4]),
                                 member_id=opt_int(r[5]), value=opt_int(r[6]), expiration=opt_int(r[7])),
                  created=float(r[8]), attempts=int(r[9]))
