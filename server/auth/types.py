"""Tiny type aliases the auth package is typed against."""

from __future__ import annotations

from collections.abc import Callable

#: Wall-clock seconds since the epoch (``time.time``). Injected everywhere time matters so tests
#: can expire tokens and cross refresh intervals without sleeping.
Clock = Callable[[], float]
