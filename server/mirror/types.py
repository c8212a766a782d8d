"""The few value types the mirror's modules are written against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: wall-clock seconds (``time.time``); injected everywhere so tests control time.
Clock = Callable[[], float]

#: (user_id, domain): domain None = Xandr user id, else "idfa" / "aaid" / … (limits.DOMAINS)
User = tuple[str, "str | None"]


@dataclass(frozen=True, slots=True)
class SegBlock:
    """One rt-segment ``seg_block``: ``seg_id`` or ``seg_code`` + ``member_id``, never both."""

    seg_id: int | None = None
    seg_code: str | None = None
    member_id: int | None = None
    value: int | None = None
    expiration: int | None = None  # minutes; 0 never, -1 remove, None member default

    @property
    def key(self) -> tuple[int | None, str | None, int | None]:
        """Which Xandr segment this is, regardless of value/expiration."""
        return (self.seg_id, self.seg_code, self.member_id)

    def as_json(self) -> dict[str, Any]:
        # The seed's examples always send all five fields, nulls included.
        return {"seg_id": self.seg_id, "seg_code": self.seg_code, "value": self.value,
                "expiration": self.expiration, "member_id": self.member_id}


@dataclass(frozen=True, slots=True)
class Intent:
    """One (user, segment) change waiting in the outbox; ``id`` orders and deletes it."""

    id: int
    user_id: str
    domain: str | None
    block: SegBlock
    created: float
    attempts: int = 0
