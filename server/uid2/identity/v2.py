"""The deprecated (2026-09-30) v2 pair: ``/v2/identity/map`` and ``/v2/identity/buckets``.

v2 map takes exactly one of ``email_hash`` / ``phone_hash`` per request and answers by
``identifier``, not by index, with a salt ``bucket_id`` per mapped DII. ``/v2/identity/buckets``
lists the buckets whose salt rotated after ``since_timestamp`` — an ISO 8601 *local* date-time,
read as UTC; the operator refuses an offset, so we never send one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from segments.dii import split_dii_id

from .batching import batches
from .errors import OperatorRejected
from .retry import OperatorCall, post_with_retry
from .types import Outcome

__all__ = ["BUCKETS_PATH", "MAP_PATH", "IdentityMapV2", "format_since", "parse_last_updated"]

MAP_PATH: Final = "/v2/identity/map"
BUCKETS_PATH: Final = "/v2/identity/buckets"


def format_since(epoch: float) -> str:
    """``2022-06-01T13:00:00``: UTC, whole seconds, no offset (the seed's format)."""
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_last_updated(text: str) -> float:
    """``2022-06-05T22:52:03.109`` (UTC, no zone) → epoch seconds; an explicit zone is honoured."""
    parsed = dt.datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


class IdentityMapV2(OperatorCall):
    async def map(self, dids: Sequence[str]) -> list[Outcome]:
        by_kind: dict[str, list[str]] = {}
        for did in dids:
            by_kind.setdefault(split_dii_id(did)[0], []).append(did)
        results: dict[str, Outcome] = {}
        for kind, kind_dids in by_kind.items():
            hashes = [split_dii_id(d)[1] for d in kind_dids]
            for batch in batches(hashes, hashes, max_items=self._max_items, max_bytes=self._max_bytes):
                body = await post_with_retry(self._operator, MAP_PATH, {kind: batch}, self._backoff)
                results.update(_parse_map(kind, batch, body))
        return [results[did] for did in dids]

    async def buckets(self, since: float) -> list[tuple[str, float]]:
        """``(bucket_id, last_updated epoch seconds)`` for buckets rotated after ``since``."""
        body = await post_with_retry(self._operator, BUCKETS_PATH, {"since_timestamp": format_since(since)},
                                     self._backoff)
        if not isinstance(body, list):
            raise OperatorRejected(f"{BUCKETS_PATH}: body is not a list", endpoint=BUCKETS_PATH,
                                   status_code=200)
        out: list[tuple[str, float]] = []
        for item in body:
            bucket = item.get("bucket_id") if isinstance(item, dict) else None
            updated = item.get("last_updated") if isinstance(item, dict) else None
            if not isinstance(bucket, str) or not isinstance(updated, str):
                continue  # tolerate junk entries; the rest still rotate
            try:
                out.append((bucket, parse_last_updated(updated)))
            except ValueError:
                continue
        return out


def _parse_map(kind: str, sent: list[str], body: Any) -> dict[str, Outcome]:
    if not isinstance(body, dict):
        raise OperatorRejected(f"{MAP_PATH}: body is not an object", endpoint=MAP_PATH, status_code=200)
    wanted = set(sent)
    results: dict[str, Outcome] = {}
    for item in body.get("mapped") or []:
        ident, uid = item.get("identifier"), item.get("advertising_id")
        if ident in wanted and isinstance(uid, str) and uid:
            bucket = item.get("bucket_id")
            results[f"{kind}:{ident}"] = Outcome(f"{kind}:{ident}", uid=uid,
                                                 bucket=bucket if isinstance(bucket, str) else None)
    for item in body.get("unmapped") or []:
        ident, reason = item.get("identifier"), item.get("reason")
        if ident in wanted:
            why = reason if reason in ("optout", "invalid identifier") else f"unknown:{reason}"
            results[f"{kind}:{ident}"] = Outcome(f"{kind}:{ident}", reason=why)
    missing = [h for h in sent if f"{kind}:{h}" not in results]
    if missing:
        raise OperatorRejected(f"{MAP_PATH}: {len(missing)} identifiers missing from the answer",
                               endpoint=MAP_PATH, status_code=200)
    return results
