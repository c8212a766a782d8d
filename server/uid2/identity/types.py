"""The small values the identity modules pass around (``Pending`` and ``Outcome`` are stored by
:mod:`segments.identity_db`, which the loader also writes, so they live there)."""

from __future__ import annotations

from typing import Final, Literal

from segments.identity_db import Outcome, Pending, Reason

__all__ = ["JOBS", "JobName", "Outcome", "Pending", "Reason"]

JobName = Literal["map", "rotate", "optout"]
JOBS: Final[tuple[JobName, ...]] = ("map", "rotate", "optout")
