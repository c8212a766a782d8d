"""Live single-user segment edits shared by every node: one Redis Stream, applied in order everywhere.

An edit (an admin ``/admin/memberships`` batch, or one batch of an identity job's store writes)
is appended to the Stream ``{prefix}:edits`` with ``XADD``; the engine gives it an id that only
grows. Every node applies the entries after its own offset, in id order, to its local snapshot.

Why the offset lives *inside* the snapshot (``meta`` row :data:`OFFSET_META`), written in the
same SQLite transaction as the edits it covers: a crash can never record an edit as applied
without its rows or the reverse, so a restart resumes exactly where the file is and nothing is
applied twice. Several workers of one node may race to apply the same entries; each re-reads the
offset inside the store's write transaction, so the loser applies nothing. A snapshot carries its
offset along: a bulk ``load`` copies ``meta``, and a published snapshot brings the offset of the
node it came from, so the entries after it are applied on top (see :mod:`server.cluster.publish`).

The store's own edit methods are reused as they are: :class:`_InTransaction` is a
:class:`~segments.store.StoreWriter` whose ``transaction()`` is the one already open, so one
entry's upserts, deletions and re-keyings all land in one transaction together with the offset.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from segments.sqlite_tx import immediate
from segments.store import StoreWriter
from segments.store.snapshots import SnapshotDir

#: ``meta`` row holding the id of the last stream entry this snapshot contains.
OFFSET_META: Final = "cluster.edits_applied"
#: Before any edit: every stream id is above it.
START: Final = "0-0"
#: Entries read per engine call.
BATCH: Final = 500

#: One operation of an entry: ``["u", [[key, {segment: expires}]...]]`` upserts,
#: ``["d", [[key, [segment...] | null]...]]`` deletions, ``["r", [[old, new]...], keep_old]`` re-keys,
#: ``["o", [[raw_uid2, since]...]]`` UID2 opt-outs (into the node's ``identity.sqlite``, which
#: ``/rtd``'s opt-out index reads; idempotent, so written before the store transaction commits).
Op = list[Any]
#: Where ``"o"`` operations go: ``(raw UID2, opted out since)`` pairs.
OptOutSink = Callable[[list[tuple[str, float]]], None]


@dataclass(frozen=True, slots=True)
class Edit:
    """One stream entry: its id and its operations."""

    id: str
    ops: list[Op]


def after(a: str, b: str) -> bool:
    """Stream id ``a`` comes after ``b`` (``ms-seq``, compared as numbers)."""
    return _id(a) > _id(b)


def _id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def encode(ops: Sequence[Op]) -> bytes:
    return orjson.dumps(list(ops))


def parse_entries(raw: Any) -> list[Edit]:
    """``XRANGE`` replies → :class:`Edit` (an entry we cannot read is skipped, never half-applied)."""
    edits = []
    for entry_id, fields in raw or ():
        payload = (fields or {}).get("e")
        eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        try:
            ops = orjson.loads(payload) if payload is not None else []
        except orjson.JSONDecodeError:
            ops = []
        edits.append(Edit(eid, ops if isinstance(ops, list) else []))
    return edits


def membership_ops(upserts: Iterable[tuple[str, dict[str, int | None]]],
                   deletes: Iterable[tuple[str, Sequence[str] | None]]) -> list[Op]:
    """An admin batch as operations (upserts first, then deletions, as the single-node API does)."""
    ops: list[Op] = []
    if u := [[key, entries] for key, entries in upserts]:
        ops.append(["u", u])
    if d := [[key, None if segs is None else list(segs)] for key, segs in deletes]:
        ops.append(["d", d])
    return ops


class _InTransaction(StoreWriter):
    """The store's edit methods, run inside a transaction we already hold (see module docstring)."""

    def __init__(self, conn: sqlite3.Connection) -> None:  # no SnapshotDir: only transaction() is used
        self._conn = conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        yield self._conn


def _apply_ops(writer: StoreWriter, ops: Sequence[Op], optouts: OptOutSink | None) -> dict[str, Any]:
    """Run one entry's operations; what the admin API answers for it."""
    result: dict[str, Any] = {"upserted": 0, "deleted": {}}
    for op in ops:
        kind = op[0] if op else None
        if kind == "u":
            result["upserted"] += writer.upsert_memberships((str(k), dict(v)) for k, v in op[1])
        elif kind == "d":
            result["deleted"].update(writer.delete_memberships_many((str(k), s) for k, s in op[1]))
        elif kind == "r":
            result["rekeyed"] = writer.rekey([(str(o), str(n)) for o, n in op[1]], keep_old=bool(op[2]))
        elif kind == "o" and optouts is not None:
            optouts([(str(uid), float(since)) for uid, since in op[1]])
    return result


def identity_optouts(data_dir: str | Path) -> OptOutSink:
    """The sink writing ``"o"`` operations into ``data_dir``'s identity database."""
    def record(items: list[tuple[str, float]]) -> None:
        from server.uid2.identity.mapping import IdentityDB

        db = IdentityDB(data_dir)
        try:
            db.add_optouts(items)
        finally:
            db.close()

    return record


def read_offset_conn(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (OFFSET_META,)).fetchone()
    return str(row[0]) if row else START


def read_offset(path: Path | None) -> str:
    """The offset of the snapshot file at ``path`` (read-only; :data:`START` without one)."""
    if path is None:
        return START
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return read_offset_conn(conn)
    except sqlite3.OperationalError:  # no meta table yet
        return START
    finally:
        conn.close()


def apply_in(conn: sqlite3.Connection, edits: Sequence[Edit], want: str | None = None,
             optouts: OptOutSink | None = None) -> tuple[str, int, dict[str, Any] | None]:
    """Apply, inside ``conn``'s open transaction, the entries after its offset; move the offset.

    Returns (offset now, entries applied, the result of entry ``want`` if this call applied it).
    """
    offset = read_offset_conn(conn)
    writer, applied, wanted = _InTransaction(conn), 0, None
    for edit in sorted(edits, key=lambda e: _id(e.id)):
        if not after(edit.id, offset):
            continue
        result = _apply_ops(writer, edit.ops, optouts)
        if edit.id == want:
            wanted = result
        offset, applied = edit.id, applied + 1
    if applied:
        conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (OFFSET_META, offset))
    return offset, applied, wanted


def apply_to_store(data_dir: str | Path, edits: Sequence[Edit], want: str | None = None
                   ) -> tuple[str, int, dict[str, Any] | None]:
    """:func:`apply_in` on the node's serving snapshot, under the store's write lock."""
    with StoreWriter(data_dir).transaction() as conn:
        return apply_in(conn, edits, want, identity_optouts(data_dir))


def apply_to_file(path: Path, edits: Sequence[Edit], optouts: OptOutSink | None = None) -> str:
    """:func:`apply_in` on a snapshot file not serving yet (a published one being installed)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        with immediate(conn):
            offset, _, _ = apply_in(conn, edits, optouts=optouts)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the main file before it is renamed
    finally:
        conn.close()
    return offset


def current_offset(data_dir: str | Path) -> str:
    return read_offset(SnapshotDir(data_dir).current_path())
