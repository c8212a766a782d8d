"""A wall clock the tests move by hand: inject it wherever code takes ``clock: Callable[[], float]``."""

from __future__ import annotations

T0 = 1_750_000_000.0  # a fixed "now" (2025-06-15), far from any real clock


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
