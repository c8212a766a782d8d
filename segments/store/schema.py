"""The SQLite snapshot schema and the encoding of one key's memberships.

One row per key (``members``), not per (key, segment): a lookup then reads at most one B-tree
entry per key, and the row's value decodes with a single ``orjson.loads``. An entry in the value
list is either ``"seg"`` (no expiry) or ``["seg", expires_epoch]``.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable

import orjson

Entry = str | list[object]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (key TEXT PRIMARY KEY, segs BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS classifying (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (key TEXT PRIMARY KEY, ids BLOB NOT NULL) WITHOUT ROWID;
"""

Link = tuple[str, str | None]  # (user id, rt-segment domain: None = Xandr user id)


def encode_links(links: Iterable[Link]) -> bytes:
    return orjson.dumps(sorted({(uid, dom) for uid, dom in links}, key=lambda x: (x[0], x[1] or "")))


def decode_links(blob: bytes | str) -> list[Link]:
    return [(str(uid), dom) for uid, dom in orjson.loads(blob)]

# SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766; /rtd asks for far fewer keys than that.
MAX_KEYS_PER_LOOKUP = 512


def encode(entries: dict[str, int | None]) -> bytes:
    """``{segment_id: expires_or_None}`` → stored value, in segment-id order (deterministic)."""
    out: list[Entry] = [sid if exp is None else [sid, exp] for sid, exp in sorted(entries.items())]
    return orjson.dumps(out)


def decode(blob: bytes | str) -> dict[str, int | None]:
    result: dict[str, int | None] = {}
    for entry in orjson.loads(blob):
        if isinstance(entry, str):
            result[entry] = None
        else:
            result[str(entry[0])] = int(entry[1])
    return result


def live_segments_until(blob: bytes | str, now: float) -> tuple[list[str], float]:
    """Segment ids of one stored value whose membership has not expired at ``now``, and the first
    moment that answer changes (the earliest expiry still ahead; ``inf`` when nothing expires) —
    what a cache of decoded values needs to stay exact."""
    out = []
    until = math.inf
    for entry in orjson.loads(blob):
        if isinstance(entry, str):
            out.append(entry)
        elif (expires := entry[1]) > now:
            out.append(entry[0])
            until = min(until, expires)
    return out, until


def merge(old: dict[str, int | None], new: dict[str, int | None]) -> dict[str, int | None]:
    """Union of memberships; a re-sent membership takes the new expiry (loads are idempotent)."""
    merged = dict(old)
    merged.update(new)
    return merged


def ip_prefix_lengths(keys: Iterable[str]) -> set[int]:
    lengths = set()
    for key in keys:
        _, _, net = key.partition(":")
        _, _, plen = net.partition("/")
        if plen.isdigit():
            lengths.add(int(plen))
    return lengths


def create(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
