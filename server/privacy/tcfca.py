"""IAB Canada TCF (GPP section 5, ``tcfcav1``): decoded and judged for *our* Canadian vendor id.

raw section → :class:`TcfCaConsent` (only what concerns our vendor, small enough to cache) →
``allows()``. Field layout: Global-Privacy-Platform ``Sections/Canada/GPPExtension: IAB Canada
TCF.md``; the core sub-section is first, optional sub-sections follow after ``.`` and start with a
3-bit ``SubsectionType`` (1 disclosed vendors, 3 publisher purposes — neither concerns us).

The TCF Canada policy reads "consent" as **express consent** and "legitimate interest" as
**implied consent** (same spec, "Summary of differences when compared with TCF EU"), so our rule
mirrors TCF EU's: our vendor and every required purpose need consent — express, or implied when
``tcfca_implied_consent`` allows it — unless a publisher restriction names our vendor:

* type 0, purpose flatly not allowed → denied;
* type 1, require express consent → the purpose (and our vendor) need express consent;
* type 2, require implied consent → they need implied consent (denied if implied is not accepted);
* type 3, undefined → read as "not allowed" (the safer reading of a value the spec does not define).

Vendor lists are ``OptimizedRange`` fields. iabgpp-es @fd0546e7 (``TcfCaV1CoreSegment``) reads the
spec's Fibonacci ranges first and falls back to the int ranges its own pre-fix encoder wrote
(iabgpp-java 3.x still writes those). We do the same; when *both* readings parse cleanly and they
disagree about our vendor, we take the one that grants less.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cachetools import LRUCache

from server.privacy.bits import Bits, GppError

VERSION: Final = 1
# Version 6, Created 36, LastUpdated 36, CmpId 12, CmpVersion 12, ConsentScreen 6, ConsentLanguage 12,
# VendorListVersion 12, TcfPolicyVersion 6, UseNonStandardStacks 1, SpecialFeatureExpressConsent 12.
BITS_BEFORE_PURPOSES: Final = 6 + 36 + 36 + 12 + 12 + 6 + 12 + 12 + 6 + 1 + 12
PURPOSE_BITS: Final = 24
SUBSECTION_TYPES: Final = frozenset({1, 3})  # disclosed vendors, publisher purposes
NOT_ALLOWED: Final = 0
REQUIRE_EXPRESS: Final = 1
REQUIRE_IMPLIED: Final = 2


@dataclass(frozen=True, slots=True)
class TcfCaConsent:
    """What one Canadian TC string says about our vendor id."""

    express_purposes: frozenset[int]
    implied_purposes: frozenset[int]
    vendor_express: bool
    vendor_implied: bool
    restrictions: tuple[tuple[int, int], ...]  # (purpose, type) of publisher restrictions naming our vendor

    def allows(self, required_purposes: Iterable[int], *, implied_ok: bool) -> bool:
        restricted = dict(self.restrictions)
        for purpose in required_purposes:
            kind = restricted.get(purpose)
            express = purpose in self.express_purposes and self.vendor_express
            implied = implied_ok and purpose in self.implied_purposes and self.vendor_implied
            if kind is None:
                ok = express or implied
            elif kind == REQUIRE_EXPRESS:
                ok = express
            elif kind == REQUIRE_IMPLIED:
                ok = implied
            else:  # NOT_ALLOWED, or the undefined type 3
                ok = False
            if not ok:
                return False
        return True


def decode(raw: str, vendor_id: int) -> TcfCaConsent | None:
    """The consent for ``vendor_id`` in a ``tcfcav1`` section, or ``None`` when it does not decode."""
    core, *subsections = raw.split(".")
    try:
        for sub in subsections:
            if Bits(sub).peek(3) not in SUBSECTION_TYPES:
                raise GppError("unknown tcfcav1 subsection")
        readings = [_core(core, vendor_id, legacy) for legacy in (False, True)]
    except GppError:
        return None
    clean = [reading for reading in readings if reading is not None]
    if not clean:
        return None
    if len(clean) == 2 and clean[0] != clean[1]:
        return _stricter(clean[0], clean[1])
    return clean[0]


def _core(encoded: str, vendor_id: int, legacy: bool) -> TcfCaConsent | None:
    """One reading of the core sub-section; ``None`` if it does not parse cleanly that way."""
    bits = Bits(encoded)
    if bits.peek(6) != VERSION:
        raise GppError("not a tcfcav1 core segment")  # wrong under either reading
    try:
        bits.read(BITS_BEFORE_PURPOSES)
        express = _purposes(bits.flags(PURPOSE_BITS))
        implied = _purposes(bits.flags(PURPOSE_BITS))
        vendor_express = bits.optimized_range_has(vendor_id, legacy=legacy)
        vendor_implied = bits.optimized_range_has(vendor_id, legacy=legacy)
        restrictions: list[tuple[int, int]] = []
        for _ in range(bits.read(12)):
            purpose, kind = bits.read(6), bits.read(2)
            # the pre-fix encoder wrote a bare int range here, the spec an OptimizedRange
            named = bits.int_range_has(vendor_id) if legacy else bits.optimized_range_has(vendor_id)
            if named:
                restrictions.append((purpose, kind))
    except GppError:
        return None
    if not bits.rest_is_padding():
        return None
    return TcfCaConsent(express, implied, vendor_express, vendor_implied, tuple(sorted(restrictions)))


def _purposes(field: tuple[bool, ...]) -> frozenset[int]:
    return frozenset(i + 1 for i, on in enumerate(field) if on)


def _stricter(a: TcfCaConsent, b: TcfCaConsent) -> TcfCaConsent:
    return TcfCaConsent(
        a.express_purposes & b.express_purposes, a.implied_purposes & b.implied_purposes,
        a.vendor_express and b.vendor_express, a.vendor_implied and b.vendor_implied,
        tuple(sorted(set(a.restrictions) | set(b.restrictions))),
    )


_UNDECODABLE: Final = object()


class TcfCaDecoder:
    """:func:`decode` for one vendor id behind an LRU bounded by entries, with strings longer than
    ``max_length`` refused before they reach the cache. One per worker / event loop."""

    def __init__(self, vendor_id: int, cache_size: int = 8192, max_length: int = 8192) -> None:
        self.vendor_id = vendor_id
        self.max_length = max_length
        self._cache: LRUCache[str, object] = LRUCache(maxsize=cache_size)

    def decode(self, raw: str) -> TcfCaConsent | None:
        if len(raw) > self.max_length:
            return None
        cached = self._cache.get(raw)
        if cached is None:
            result = decode(raw, self.vendor_id)
            cached = _UNDECODABLE if result is None else result
            self._cache[raw] = cached
        return cached if isinstance(cached, TcfCaConsent) else None

    def clear(self) -> None:
        self._cache.clear()
