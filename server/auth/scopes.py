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
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(n, str) for n in value):
        names = list(value)
    else:  # JSON gives objects, numbers, nested lists: a client error (400), never a crash
        raise InvalidScope("scopes must be a space-delimited string or a list of scope names, "
                           f"got {value!r:.80}")
    bad = sorted({n for n in names if n not in SCOPE_BITS})
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
