"""How many rejected rows a load may have before it publishes nothing (``--max-rejected``).

A load whose every row is rejected used to publish an empty store (with ``--replace``, every
answer goes empty). The limit is a count (``100``) or a share of the rows read (``0.5%``); by
default none for a replace (it is the whole truth, a bad row means a bad file) and
:data:`MERGE_DEFAULT_PERCENT` for a merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from segments.rows import Rejected

MERGE_DEFAULT_PERCENT = 1.0


@dataclass(frozen=True, slots=True)
class RejectLimit:
    count: int | None = None  # at most this many rejected rows
    percent: float | None = None  # at most this share of all rows read (accepted + rejected)

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        """``"25"`` → 25 rows; ``"0.5%"`` → 0.5 % of the rows read. Raises ValueError otherwise."""
        raw = text.strip()
        try:
            if raw.endswith("%"):
                percent = float(raw[:-1])
                if not 0.0 <= percent <= 100.0:
                    raise ValueError
                return cls(percent=percent)
            count = int(raw)
            if count < 0:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise ValueError(f"--max-rejected: expected a row count (25) or a percentage (0.5%), "
                             f"got {text!r}") from None

    @classmethod
    def default(cls, *, replace: bool) -> RejectLimit:
        return cls(count=0) if replace else cls(percent=MERGE_DEFAULT_PERCENT)

    def exceeded(self, rejected: int, accepted: int) -> bool:
        if self.count is not None:
            return rejected > self.count
        total = rejected + accepted
        return total > 0 and rejected * 100.0 > (self.percent or 0.0) * total

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


class TooManyRejected(Exception):
    """More rejected rows than the limit allows: nothing was published."""

    def __init__(self, limit: RejectLimit, accepted: int, rejected: Sequence[Rejected]) -> None:
        total = accepted + len(rejected)
        super().__init__(f"{len(rejected)} of {total} rows rejected, more than --max-rejected {limit}: "
                         "nothing was published")
        self.limit = limit
        self.accepted = accepted
        self.rejected = list(rejected)
