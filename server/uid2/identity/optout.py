"""``POST /v2/optout/status``: which of these raw UID2s opted out, and since when (epoch ms)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ..operator import OperatorClient
from .errors import OperatorRejected
from .retry import Backoff, post_with_retry
from .settings import MAX_BATCH

__all__ = ["PATH", "OptOutStatusClient"]

PATH: Final = "/v2/optout/status"


class OptOutStatusClient:
    def __init__(self, operator: OperatorClient, backoff: Backoff, *, max_items: int = MAX_BATCH) -> None:
        self._operator = operator
        self._backoff = backoff
        self._max_items = min(max_items, MAX_BATCH)

    async def status(self, uids: Sequence[str]) -> dict[str, float]:
        """``{raw UID2: opted out since, epoch seconds}`` for the opted-out ones only."""
        out: dict[str, float] = {}
        for i in range(0, len(uids), self._max_items):
            chunk = list(uids[i:i + self._max_items])
            body = await post_with_retry(self._operator, PATH, {"advertising_ids": chunk}, self._backoff)
            if not isinstance(body, dict):
                raise OperatorRejected(f"{PATH}: body is not an object", endpoint=PATH, status_code=200)
            asked = set(chunk)
            for item in body.get("opted_out") or []:
                uid = item.get("advertising_id") if isinstance(item, dict) else None
                since = item.get("opted_out_since") if isinstance(item, dict) else None
                if uid in asked and isinstance(since, (int, float)) and not isinstance(since, bool):
                    out[uid] = since / 1000.0
        return out
