"""Small, live edits to the serving snapshot: admin upserts, deletions, UID2 re-keying.

Each method is one SQLite transaction on the current snapshot under the store's write lock, so
readers (WAL mode) see either all of an edit or none of it, and a concurrent bulk merge cannot
build on a copy that misses it. Bulk data goes through :mod:`segments.loader` instead.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from segments.sqlite_tx import immediate
from segments.store import schema
from segments.store.base import NoSnapshot
from segments.store.integrity import DamagedSnapshot, check_header
from segments.store.snapshots import SnapshotDir
from segments.taxonomy import Segment


class StoreWriter:
    def __init__(self, data_dir: str | Path) -> None:
        self.dir = SnapshotDir(data_dir)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on CURRENT's snapshot. A damaged one raises
        :class:`DamagedSnapshot` naming it: an edit is never written into a broken file, nor into
        the fallback a reader serves meanwhile (the next load would not build on it)."""
        with self.dir.write_lock():
            path = self.dir.current_path()
            if path is None:
                raise NoSnapshot(f"no snapshot in {self.dir.root}")
            check_header(path)
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # an acknowledged admin edit survives a crash
                schema.create(conn)  # snapshots from older versions gain newer tables (IF NOT EXISTS)
                with immediate(conn):
                    yield conn
            except sqlite3.DatabaseError as exc:
                if not _damage(exc):
                    raise
                raise DamagedSnapshot(path, str(exc)) from exc
            finally:
                conn.close()

    # -- memberships -------------------------------------------------------------------------

    def upsert_memberships(self, items: Iterable[tuple[str, dict[str, int | None]]]) -> int:
        """Merge memberships into existing keys (idempotent). Returns keys touched."""
        touched = 0
        with self.transaction() as conn:
            new_keys = 0
            ip_keys = []
            for key, entries in items:
                row = conn.execute("SELECT segs FROM members WHERE key = ?", (key,)).fetchone()
                merged = schema.merge(schema.decode(row[0]) if row else {}, entries)
                conn.execute("INSERT OR REPLACE INTO members(key, segs) VALUES (?, ?)",
                             (key, schema.encode(merged)))
                new_keys += row is None
                touched += 1
                if key.startswith("ip:"):
                    ip_keys.append(key)
            _bump_members(conn, new_keys)
            if ip_keys:
                _add_ip_lengths(conn, ip_keys)
        return touched

    def delete_memberships(self, key: str, segment_ids: Sequence[str] | None = None) -> list[str]:
        """Remove a key's memberships (all, or the named ones). Returns the segment ids removed."""
        return self.delete_memberships_many([(key, segment_ids)])[key]

    def delete_memberships_many(self, items: Iterable[tuple[str, Sequence[str] | None]]
                                ) -> dict[str, list[str]]:
        """Several deletions in ONE transaction (all or nothing): ``{key: segment ids removed}``."""
        removed: dict[str, list[str]] = {}
        with self.transaction() as conn:
            for key, segment_ids in items:
                removed[key] = _delete(conn, key, segment_ids)
        return removed

    def get_memberships(self, key: str) -> dict[str, int | None]:
        rows = self._read("SELECT segs FROM members WHERE key = ?", (key,))
        return schema.decode(rows[0][0]) if rows else {}

    def get_links(self, keys: Sequence[str]) -> dict[str, list[schema.Link]]:
        """The Xandr id links of the given keys (for removals after an opt-out)."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        try:
            rows = self._read(f"SELECT key, ids FROM links WHERE key IN ({marks})", tuple(keys))
        except sqlite3.OperationalError:  # a snapshot written before the links table existed
            return {}
        return {key: schema.decode_links(ids) for key, ids in rows}

    def _read(self, sql: str, params: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """One read on the serving snapshot through a short-lived read-only connection."""
        path = self.dir.current_path()
        if path is None:
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if not _damage(exc):
                raise  # e.g. a missing table: the caller's to handle (older snapshots)
            raise DamagedSnapshot(path, str(exc)) from exc
        finally:
            conn.close()

    def delete_links(self, keys: Iterable[str]) -> None:
        with self.transaction() as conn:
            conn.executemany("DELETE FROM links WHERE key = ?", ((k,) for k in keys))

    def rekey(self, moves: Iterable[tuple[str, str]], *, keep_old: bool = False) -> int:
        """Move memberships from old keys to new keys in ONE transaction.

        Used when a raw UID2 rotates: a reader sees the user under the old key or under the new
        one, never under neither. ``keep_old`` leaves the old key as an alias (tokens minted
        before the rotation still match).
        """
        moved = 0
        with self.transaction() as conn:
            delta = 0
            for old, new in moves:
                row = conn.execute("SELECT segs FROM members WHERE key = ?", (old,)).fetchone()
                if row is None or old == new:
                    continue
                target = conn.execute("SELECT segs FROM members WHERE key = ?", (new,)).fetchone()
                merged = schema.merge(schema.decode(target[0]) if target else {}, schema.decode(row[0]))
                conn.execute("INSERT OR REPLACE INTO members(key, segs) VALUES (?, ?)",
                             (new, schema.encode(merged)))
                delta += target is None
                _copy_links(conn, old, new)
                if not keep_old:
                    conn.execute("DELETE FROM members WHERE key = ?", (old,))
                    delta -= 1
                moved += 1
            _bump_members(conn, delta)
        return moved

    def set_classifying(self, keys: Iterable[str], classifying: bool = True) -> None:
        with self.transaction() as conn:
            sql = ("INSERT OR IGNORE INTO classifying(key) VALUES (?)" if classifying
                   else "DELETE FROM classifying WHERE key = ?")
            conn.executemany(sql, ((k,) for k in keys))

    # -- taxonomy ----------------------------------------------------------------------------

    def upsert_segments(self, segments: Iterable[Segment]) -> int:
        with self.transaction() as conn:
            rows = [(s.id, orjson.dumps(s.as_dict())) for s in segments]
            conn.executemany("INSERT OR REPLACE INTO segments(id, data) VALUES (?, ?)", rows)
            return len(rows)

    def delete_segment(self, segment_id: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM segments WHERE id = ?", (segment_id,)).rowcount > 0


def _damage(exc: sqlite3.DatabaseError) -> bool:
    """"file is not a database", "malformed", a short read: the file, not the statement or a lock."""
    return type(exc) is sqlite3.DatabaseError or (type(exc) is sqlite3.OperationalError and "I/O" in str(exc))


def _delete(conn: sqlite3.Connection, key: str, segment_ids: Sequence[str] | None) -> list[str]:
    row = conn.execute("SELECT segs FROM members WHERE key = ?", (key,)).fetchone()
    if row is None:
        return []
    current = schema.decode(row[0])
    doomed = list(current) if segment_ids is None else [s for s in segment_ids if s in current]
    remaining = {s: e for s, e in current.items() if s not in doomed}
    if remaining:
        conn.execute("UPDATE members SET segs = ? WHERE key = ?", (schema.encode(remaining), key))
    else:
        conn.execute("DELETE FROM members WHERE key = ?", (key,))
        _bump_members(conn, -1)
    return doomed


def _copy_links(conn: sqlite3.Connection, old: str, new: str) -> None:
    rows = conn.execute("SELECT key, ids FROM links WHERE key IN (?, ?)", (old, new)).fetchall()
    links = [link for _, ids in rows for link in schema.decode_links(ids)]
    if links:
        conn.execute("INSERT OR REPLACE INTO links(key, ids) VALUES (?, ?)",
                     (new, schema.encode_links(links)))


def _bump_members(conn: sqlite3.Connection, delta: int) -> None:
    if delta:
        conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)"
                     " WHERE name = 'members'",
                     (delta,))


def _add_ip_lengths(conn: sqlite3.Connection, keys: list[str]) -> None:
    row = conn.execute("SELECT value FROM meta WHERE name = 'ip_prefix_lengths'").fetchone()
    lengths = {int(x) for x in (row[0] if row else "").split(",") if x} | schema.ip_prefix_lengths(keys)
    conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('ip_prefix_lengths', ?)",
                 (",".join(map(str, sorted(lengths))),))
