"""The auth tables as flat strings, and the one merge rule both sides apply (no redis here).

A node's ``auth.sqlite3`` and the engine's three hashes hold the same rows; the sync moves them
both ways and each side merges with the same rules, so the order in which nodes push never
matters and a row pushed back unchanged changes nothing (no ping-pong):

==============  ========================================================================
revocations     ``not_before:revoked:deleted``, each part the larger of the two (a revoke
                or a delete is never undone by a node that has not seen it yet)
identities      first writer wins (ids are random UUIDs); a deleted identity is removed
signing keys    first writer wins per kid; a node whose freshly rotated key lost the kid
                takes the engine's key before its own would have signed anything (a new key
                signs only ``ACTIVATION_DELAY_MS`` = 2 s after creation, the sync runs every
                0.2 s); ``retired`` is the earlier of the two
==============  ========================================================================

Pruning follows the local database's (:mod:`server.auth.identities`, :mod:`server.auth.keys`):
revocations 24 h after the revoke, retired keys once their tokens have expired — except that the
engine keeps *deletions* for good, so a node that missed a delete during a long partition cannot
bring the identity back when it rejoins (one short row per deleted identity). Rows past their
prune time are neither pushed nor pulled, so a pruned row is never resurrected.

Numbers are compared as decimal strings (shorter is smaller), as the Lua side does: the deleted
marker ``2**62`` does not survive Lua's doubles.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from server.auth import db
from server.auth.identities import PRUNE_AFTER_MS
from server.auth.keys import PRUNE_MARGIN_MS
from server.auth.settings import MAX_LIFETIME_S


@dataclass
class AuthRows:
    """One side's rows: identity id → revocation, identity id → identity, kid → signing key."""

    revocations: dict[str, str] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)
    signing_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps({"rev": self.revocations, "ids": self.identities, "keys": self.signing_keys})


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these (ms since the epoch) are pruned on both sides."""

    revocations_ms: int
    keys_ms: int

    @classmethod
    def at(cls, now_s: float) -> Cutoffs:
        now_ms = int(now_s * 1000)
        return cls(now_ms - PRUNE_AFTER_MS, now_ms - MAX_LIFETIME_S * 1000 - PRUNE_MARGIN_MS)

    def expired_revocation(self, value: str) -> bool:
        """A plain revoke older than 24 h (its tokens have all expired); never a deletion."""
        _, revoked, deleted = value.split(":")
        return deleted != "1" and _older(revoked, self.revocations_ms)

    def old_deletion(self, value: str) -> bool:
        _, revoked, deleted = value.split(":")
        return deleted == "1" and _older(revoked, self.revocations_ms)

    def expired_key(self, value: str) -> bool:
        retired = value.rsplit(":", 1)[1]
        return retired != "0" and _older(retired, self.keys_ms)


def _older(a: str, b: int) -> bool:
    return nmax(a, str(b)) != a


def nmax(a: str, b: str) -> str:
    """The larger of two non-negative decimal strings."""
    return max(a, b, key=lambda s: (len(s), s))


def merge_revocation(current: str | None, incoming: str) -> str:
    if current is None:
        return incoming
    return ":".join(nmax(x, y) for x, y in zip(current.split(":"), incoming.split(":"), strict=True))


def is_deleted(revocation: str | None) -> bool:
    return revocation is not None and revocation.endswith(":1")


def merge_key(current: str | None, incoming: str) -> str:
    """Same kid: the current key stays (first writer wins); retired is the earlier non-zero time."""
    if current is None:
        return incoming
    secret, created, active, retired = current.split(":")
    other_secret, _, _, other_retired = incoming.split(":")
    if other_secret != secret:
        return current
    both = [r for r in (retired, other_retired) if r != "0"]
    earliest = min(both, key=lambda s: (len(s), s)) if both else "0"
    return f"{secret}:{created}:{active}:{earliest}"


def read_local(conn: sqlite3.Connection) -> AuthRows:
    """Every shared row of a node's auth database, in one read transaction."""
    rows = AuthRows()
    conn.execute("BEGIN")
    try:
        for identity, nb, revoked, deleted in conn.execute(
                "SELECT identity_id, not_before_ms, revoked_ms, deleted FROM revocations"):
            rows.revocations[identity] = f"{nb}:{revoked}:{int(deleted)}"
        for identity, name, scopes, created, secret_hash in conn.execute(
                "SELECT id, display_name, scopes, created_ms, secret_hash FROM identities"):
            rows.identities[identity] = orjson.dumps([name, scopes, created, secret_hash]).decode()
        for kid, secret, created, active, retired in conn.execute(
                "SELECT kid, secret, created_ms, active_from_ms, retired_ms FROM signing_keys"):
            rows.signing_keys[str(kid)] = f"{bytes(secret).hex()}:{created}:{active}:{retired or 0}"
    finally:
        conn.execute("COMMIT")
    return rows


def apply_remote(path: Path, local: AuthRows, remote: AuthRows, cutoffs: Cutoffs) -> int:
    """Merge the engine's rows into the node's database; returns how many rows changed.

    Only differing rows are written, in one transaction, so an unchanged engine costs no write.
    An old deletion removes the identity without writing a revocation row the node would prune.
    """
    old_deletions = {i for i, v in remote.revocations.items() if cutoffs.old_deletion(v)}
    rev = {i: m for i, v in remote.revocations.items()
           if i not in old_deletions and not cutoffs.expired_revocation(v)
           and (m := merge_revocation(local.revocations.get(i), v)) != local.revocations.get(i)}
    merged_rev = {**local.revocations, **rev}
    new_ids = {i: v for i, v in remote.identities.items()
               if i not in local.identities and i not in old_deletions and not is_deleted(merged_rev.get(i))}
    gone_ids = [i for i in local.identities if is_deleted(merged_rev.get(i)) or i in old_deletions]
    keys = {k: v for k, v in remote.signing_keys.items() if not cutoffs.expired_key(v)
            and (m := _take_key(local.signing_keys.get(k), v)) != local.signing_keys.get(k)}
    if not (rev or new_ids or gone_ids or keys):
        return 0
    with db.write_tx(path) as conn:
        conn.executemany(
            "INSERT INTO revocations (identity_id, not_before_ms, revoked_ms, deleted) VALUES (?,?,?,?) "
            # MAX in SQL too: a revoke committed here after ``local`` was read must not be undone.
            "ON CONFLICT(identity_id) DO UPDATE SET "
            "not_before_ms = MAX(not_before_ms, excluded.not_before_ms), "
            "revoked_ms = MAX(revoked_ms, excluded.revoked_ms), deleted = MAX(deleted, excluded.deleted)",
            [(i, *map(int, merge_revocation(local.revocations.get(i), v).split(":")))
             for i, v in rev.items()])
        conn.executemany("DELETE FROM identities WHERE id = ?", [(i,) for i in gone_ids])
        conn.executemany(
            "INSERT OR IGNORE INTO identities (id, display_name, scopes, created_ms, secret_hash) "
            "VALUES (?,?,?,?,?)",
            [(i, *orjson.loads(v)) for i, v in new_ids.items()])
        conn.executemany(
            "INSERT OR REPLACE INTO signing_keys (kid, secret, created_ms, active_from_ms, retired_ms) "
            "VALUES (?,?,?,?,?)",
            [(int(k), *_key_row(_take_key(local.signing_keys.get(k), v))) for k, v in keys.items()])
    return len(rev) + len(new_ids) + len(gone_ids) + len(keys)


def _take_key(local: str | None, remote: str) -> str:
    """The engine's key wins a kid (it was there first); retired times merge as in :func:`merge_key`."""
    return merge_key(remote, local) if local is not None else remote


def _key_row(value: str) -> tuple[bytes, int, int, int | None]:
    secret, created, active, retired = value.split(":")
    return bytes.fromhex(secret), int(created), int(active), int(retired) or None
