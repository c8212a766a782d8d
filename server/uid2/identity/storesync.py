"""Write what the identity table implies into the serving snapshot: ``uid2:<u>`` and its aliases.

Everything here is idempotent, so a job that crashes after these writes but before its identity
commit can simply run again. A rotation is one :meth:`StoreWriter.rekey` (one transaction, old
key kept) — a lookup sees the user under the old raw UID2, the new one, or both, never neither —
followed by one upsert that caps the DII's segments on the old key at the alias date: tokens
minted before the rotation keep matching for ``alias_days`` and then age out on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from segments import keys as K
from segments.store.writer import StoreWriter

from .types import Outcome

__all__ = ["StoreSync", "capped"]

Members = dict[str, int | None]


def capped(members: Mapping[str, int | None], until: float) -> Members:
    limit = int(until)
    return {seg: limit if exp is None else min(exp, limit) for seg, exp in members.items()}


class StoreSync:
    def __init__(self, writer: StoreWriter, alias_seconds: int) -> None:
        self.writer = writer
        self.alias_seconds = alias_seconds

    def apply(self, outcomes: Sequence[Outcome], old: Mapping[str, str | None],
              members: Mapping[str, Members], alias_until: Mapping[str, float], *, now: float) -> int:
        """Materialise one batch of mapping outcomes; returns how many users were re-keyed."""
        moves = [(K.make(K.UID2, prev), K.make(K.UID2, o.uid)) for o in outcomes
                 if o.uid and (prev := old.get(o.did)) and prev != o.uid]
        if moves:
            self.writer.rekey(moves, keep_old=True)
        upserts: dict[str, Members] = {}
        default_until = now + self.alias_seconds
        for o in outcomes:
            entries = members.get(o.did)
            if not o.uid or not entries:
                continue
            upserts.setdefault(K.make(K.UID2, o.uid), {}).update(entries)
            for alias in {old.get(o.did), o.prev} - {None, o.uid}:
                assert alias is not None
                until = alias_until.get(alias, default_until)
                upserts.setdefault(K.make(K.UID2, alias), {}).update(capped(entries, until))
        if upserts:
            self.writer.upsert_memberships(upserts.items())
        return len(moves)

    def remove(self, uids: Iterable[str]) -> int:
        """Drop every membership of these raw UID2s (opt-outs, expired aliases), in one transaction
        (and, in a cluster, one stream entry); returns how many had any."""
        keys = [(K.make(K.UID2, uid), None) for uid in dict.fromkeys(uids)]
        if not keys:
            return 0
        return sum(bool(removed) for removed in self.writer.delete_memberships_many(keys).values())
