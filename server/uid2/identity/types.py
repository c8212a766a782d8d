"""The small values the identity modules pass around."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["JOBS", "JobName", "Outcome", "Pending", "Reason"]

JobName = Literal["map", "rotate", "optout"]
JOBS: Final[tuple[JobName, ...]] = ("map", "rotate", "optout")
Reason = str  # "optout", "invalid identifier", or "unknown:<text>" for a reason UID2 adds later


@dataclass(frozen=True, slots=True)
class Pending:
    """A DII to (re)map, with the raw UID2 it had (None before its first mapping)."""

    did: str
    uid: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the operator said about one DII: mapped (``uid`` set) or unmapped (``reason`` set).

    ``prev`` is v3's ``p`` (the raw UID2 before a rotation in the last 90 days); ``refresh_at`` is
    v3's ``r`` in epoch seconds; ``bucket`` is v2's salt bucket id.
    """

    did: str
    uid: str | None = None
    prev: str | None = None
    refresh_at: int | None = None
    bucket: str | None = None
    reason: Reason | None = None
