"""Cut outbox intents into rt-segment requests that respect every documented size limit.

Per request: ≤ 1000 users (``rt_segment`` entries), ≤ 100 ``seg_block`` per user, ≤ 1 MB of JSON.
A user with more than 100 segments is split across *requests* (the limit is per user per call),
so a user appears at most once per request. Intents for the same (user, segment) in one drain
are collapsed to the latest (an add then a remove sends only the remove), and every collapsed
intent id rides along so the sender deletes them together after success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from server.mirror import limits
from server.mirror.types import Intent, SegBlock

_ENVELOPE = len(b'{"rt_segment":[]}')


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``rt_segment`` item and the outbox ids it carries."""

    user_id: str
    domain: str | None
    blocks: tuple[SegBlock, ...]
    ids: tuple[tuple[int, ...], ...]  # per block: every intent id collapsed into it

    def as_json(self) -> dict[str, object]:
        return {"user_id": self.user_id, "seg_block": [b.as_json() for b in self.blocks],
                "domain": self.domain}


@dataclass(frozen=True, slots=True)
class Batch:
    entries: tuple[Entry, ...]
    body: bytes
    oversize: bool = False  # a single user+segment over max_bytes: never sendable, dead-letter it

    @property
    def users(self) -> int:
        return len(self.entries)

    @property
    def ids(self) -> list[int]:
        return [i for e in self.entries for block_ids in e.ids for i in block_ids]


def build_batches(intents: Sequence[Intent], *, max_users: int = limits.USERS_PER_REQUEST,
                  max_blocks: int = limits.SEG_BLOCKS_PER_USER,
                  max_bytes: int = limits.PAYLOAD_BYTES) -> list[Batch]:
    """Group by user (first-seen order), collapse per segment, then pack requests greedily."""
    users: dict[tuple[str, str | None], dict[tuple[int | None, str | None, int | None],
                                             tuple[SegBlock, list[int]]]] = {}
    for it in intents:
        per_user = users.setdefault((it.user_id, it.domain), {})
        prev = per_user.get(it.block.key)
        ids = (prev[1] if prev else []) + [it.id]
        per_user[it.block.key] = (it.block, ids)  # later intent wins; ids accumulate

    # Each user becomes ⌈segments / max_blocks⌉ chunks; chunk k goes to the k-th request "round".
    rounds: list[list[Entry]] = []
    for (user_id, domain), segs in users.items():
        items = list(segs.values())
        for k, start in enumerate(range(0, len(items), max_blocks)):
            chunk = items[start:start + max_blocks]
            entry = Entry(user_id, domain, tuple(b for b, _ in chunk), tuple(tuple(ids) for _, ids in chunk))
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(entry)

    batches: list[Batch] = []
    for entries in rounds:
        current: list[Entry] = []
        current_parts: list[bytes] = []
        size = _ENVELOPE
        for entry in entries:
            part = orjson.dumps(entry.as_json())
            if len(part) + _ENVELOPE > max_bytes:
                if len(entry.blocks) == 1:
                    batches.append(Batch((entry,), b"", oversize=True))
                    continue
                # 100 blocks reach 1 MB only with absurd seg_codes; halve the blocks per request
                batches.extend(build_batches(_explode(entry), max_users=max_users,
                                             max_blocks=max(1, len(entry.blocks) // 2), max_bytes=max_bytes))
                continue
            extra = len(part) + (1 if current else 0)
            if current and (len(current) >= max_users or size + extra > max_bytes):
                batches.append(_seal(current, current_parts))
                current, current_parts, size = [], [], _ENVELOPE
                extra = len(part)
            current.append(entry)
            current_parts.append(part)
            size += extra
        if current:
            batches.append(_seal(current, current_parts))
    return batches


def _seal(entries: list[Entry], parts: list[bytes]) -> Batch:
    return Batch(tuple(entries), b'{"rt_segment":[' + b",".join(parts) + b"]}")


def _explode(entry: Entry) -> list[Intent]:
    return [Intent(id=i, user_id=entry.user_id, domain=entry.domain, block=b, created=0.0)
            for b, ids in zip(entry.blocks, entry.ids, strict=True) for i in ids]


def split_batch(batch: Batch) -> list[Batch]:
    """Two requests from one (after an HTTP 413): halve the users, keep every intent id."""
    half = max(1, len(batch.entries) // 2)
    out: list[Batch] = []
    for part in (batch.entries[:half], batch.entries[half:]):
        if part:
            out.append(_seal(list(part), [orjson.dumps(e.as_json()) for e in part]))
    return out
