"""The three scopes a token can carry, and their compact bit encoding.

=============  ======================================
``rtd``        ``POST /rtd`` (Index Real-Time Data)
``segments``   ``GET /segments`` (Index Cached API)
``admin``      everything under ``/admin``
=============  ======================================

Tokens carry scopes as a one-byte bit mask so the hot-path scope check is one ``&``.
Bits are part of the token format: never renumber them, only add new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from server.auth.errors import InvalidScope

RTD: Final = "rtd"
SEGMENTS: Final = "segments"
ADMIN: Final = "admin"

SCOPE_BITS: Final[dict[str, int]] = {RTD: 1, SEGMENTS: 2, ADMIN: 4}
ALL_SCOPES: Final = frozenset(SCOPE_BITS)
ALL_BITS: Final = 1 | 2 | 4


def parse_scopes(value: str | Iterable[str]) -> frozenset[str]:
    """Parse an OAuth space-delimited scope string (RFC 6749 §3.3) or a list of names.

    Raises :class:`InvalidScope` naming every unknown scope. Order and duplicates do not matter.
    """
    names = value.split() if isinstance(value, str) else list(value)
    bad = sorted({n for n in names if not isinstance(n, str) or n not in SCOPE_BITS}, key=str)
    if bad:
        raise InvalidScope(f"unknown scope(s) {bad}; known scopes are {sorted(ALL_SCOPES)}")
    return frozenset(names)


def to_mask(scopes: Iterable[str]) -> int:
    """Bit mask for known scope names (callers parse first; unknown names raise ``KeyError``)."""
    mask = 0
    for name in scopes:
        mask |= SCOPE_BITS[name]
    return mask


def from_mask(mask: int) -> frozenset[str]:
    """Scope names set in ``mask`` (unknown bits are ignored here; the token decoder rejects them)."""
    return frozenset(name for name, bit in SCOPE_BITS.items() if mask & bit)


def format_scopes(scopes: Iterable[str]) -> str:
    """Canonical space-delimited form: sorted, so responses and logs are stable."""
    return " ".join(sorted(scopes))
