"""``POST /v3/identity/map``: hashes in, ``{u, p, r}`` or ``{e}`` out, aligned by index.

We send only ``email_hash`` and ``phone_hash`` (raw DII never leaves the loader). Unknown fields
are ignored; an unknown ``e`` is kept as ``unknown:<e>`` and counted, not fatal. ``r`` is epoch
seconds in the operator and the SDKs but milliseconds in the endpoint page's example, so a value
that can only be milliseconds (after year 5000 as seconds) is divided by 1000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from segments.dii import HASH_KINDS, split_dii_id

from .batching import batches
from .errors import OperatorRejected
from .retry import OperatorCall, post_with_retry
from .types import Outcome

__all__ = ["PATH", "IdentityMapV3", "parse_item", "refresh_seconds"]

PATH: Final = "/v3/identity/map"
_MS_THRESHOLD: Final = 100_000_000_000  # 1e11 s is year 5138; 1e11 ms is 1973


def refresh_seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value / 1000) if value >= _MS_THRESHOLD else int(value)


def parse_item(did: str, item: Any) -> Outcome:
    if not isinstance(item, dict):
        return Outcome(did, reason="unknown:not an object")
    uid = item.get("u")
    if isinstance(uid, str) and uid:
        prev = item.get("p")
        return Outcome(did, uid=uid, prev=prev if isinstance(prev, str) and prev else None,
                       refresh_at=refresh_seconds(item.get("r")))
    reason = item.get("e")
    if reason in ("optout", "invalid identifier"):
        return Outcome(did, reason=reason)
    return Outcome(did, reason=f"unknown:{reason}")


class IdentityMapV3(OperatorCall):
    async def map(self, dids: Sequence[str]) -> list[Outcome]:
        """One outcome per DII id, in order; as many sequential requests as the limits need."""
        out: list[Outcome] = []
        hashes = [split_dii_id(d)[1] for d in dids]
        for batch in batches(list(zip(dids, hashes, strict=True)), hashes, max_items=self._max_items,
                             max_bytes=self._max_bytes):
            out.extend(await self._request(batch))
        return out

    async def _request(self, batch: list[tuple[str, str]]) -> list[Outcome]:
        by_kind: dict[str, list[tuple[str, str]]] = {}
        for did, digest in batch:
            by_kind.setdefault(split_dii_id(did)[0], []).append((did, digest))
        payload = {kind: [digest for _, digest in items] for kind, items in by_kind.items()}
        body = await post_with_retry(self._operator, PATH, payload, self._backoff)
        results: dict[str, Outcome] = {}
        for kind in HASH_KINDS:
            sent = by_kind.get(kind, [])
            got = body.get(kind, []) if isinstance(body, dict) else None
            if not sent:
                continue
            if not isinstance(got, list) or len(got) != len(sent):
                raise OperatorRejected(f"{PATH}: {kind} answer does not line up with the request",
                                       endpoint=PATH, status_code=200)
            for (did, _), item in zip(sent, got, strict=True):
                results[did] = parse_item(did, item)
        return [results[did] for did, _ in batch]
