"""IAB TCF v2 consent strings: decoded by the ``iab-tcf`` library, judged for *our* vendor id.

raw string → :class:`TcfConsent` (only what the gate needs, small enough to cache) → ``allows()``.

Two things the library does not do, which we add around it:

* **Size guard.** ``iab-tcf`` reads past the end of a truncated string as zero bits and then
  loops on whatever counts it read: a 39-character string claiming 65 535 bitfield vendors
  costs ~40 ms of CPU. :func:`_fits` walks just the section *sizes* (never their meaning)
  before decoding, so work is bounded by the string's length.
* **Completeness check.** After decoding, a reader that ran past the end means the string was
  truncated; the library would have silently read consent bits as "all true" (``bitarray.all()``
  of an empty slice). Such strings are undecodable, i.e. no consent.

Decoded results — including "undecodable" — are cached per string in an LRU, because decoding is
pure Python (~100 µs–1 ms) and the same user's string recurs across their ad requests.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from cachetools import LRUCache
from iab_tcf import decode_v2

TCF_VERSION: Final = 2
CORE_HEADER_BITS: Final = 213  # version … publisher country code, fixed-size fields
RESTRICTION_FLATLY_NOT_ALLOWED: Final = 0
RESTRICTION_REQUIRE_LEGITIMATE_INTEREST: Final = 2  # our legal basis is consent, so this blocks us too


@dataclass(frozen=True, slots=True)
class TcfConsent:
    """What one decoded TC string says about our vendor id."""

    purposes: frozenset[int]  # purposes the user consented to
    vendor_consent: bool  # the user consented to our vendor id
    restricted_purposes: frozenset[int]  # purposes the publisher forbids us to use under consent

    def allows(self, required_purposes: Iterable[int]) -> bool:
        if not self.vendor_consent:
            return False
        return all(p in self.purposes and p not in self.restricted_purposes for p in required_purposes)


_UNDECODABLE: Final = object()  # cache value for strings that do not decode


class TcfDecoder:
    """Decode-and-cache for one vendor id. Not thread-safe (one per worker / event loop)."""

    def __init__(self, vendor_id: int, cache_size: int = 8192, max_length: int = 8192) -> None:
        self.vendor_id = vendor_id
        self.max_length = max_length
        self._cache: LRUCache[str, object] = LRUCache(maxsize=cache_size)

    def decode(self, raw: str) -> TcfConsent | None:
        """The consent for ``raw``, or ``None`` when it is not a decodable TCF v2 string."""
        if len(raw) > self.max_length:
            return None
        cached = self._cache.get(raw)
        if cached is None:
            cached = _decode(raw, self.vendor_id)
            self._cache[raw] = _UNDECODABLE if cached is None else cached
        return cached if isinstance(cached, TcfConsent) else None

    def clear(self) -> None:
        self._cache.clear()


def _decode(raw: str, vendor_id: int) -> TcfConsent | None:
    text = raw.strip()
    if not text.startswith("C"):  # 6-bit version 2 encodes as "C"; GPP strings start with "D"
        return None
    core_b64 = text.split(".", 1)[0]
    try:
        padding = "=" * (-len(core_b64) % 4)
        core = base64.urlsafe_b64decode(core_b64 + padding)
    except (binascii.Error, ValueError):
        return None
    if not _fits(core):
        return None
    try:
        consent: Any = decode_v2(text)
        reader = consent._reader  # the library exposes no "bytes consumed"; see module docstring
        if reader._pointer > len(reader._consent) or consent.version != TCF_VERSION:
            return None
        purposes = frozenset(p for p, on in consent.purposes_consent.items() if on)
        vendor = bool(consent.is_vendor_allowed(vendor_id)) if vendor_id > 0 else False
        restricted = frozenset(
            entry.purpose_id
            for entry in consent.pub_restriction_entries
            if entry.restriction_type in (RESTRICTION_FLATLY_NOT_ALLOWED,
                                          RESTRICTION_REQUIRE_LEGITIMATE_INTEREST)
            and entry.is_in_range(vendor_id)
        )
    except Exception:  # noqa: BLE001 — a third-party decoder on untrusted input: any failure = undecodable
        return None
    return TcfConsent(purposes=purposes, vendor_consent=vendor, restricted_purposes=restricted)


def _fits(core: bytes) -> bool:
    """Whether the variable-size parts of a core segment fit inside it (sizes only, no meaning).

    Walks MaxVendorId/IsRangeEncoding/… for vendor consents and legitimate interests, then the
    publisher-restriction counts, the same way the TCF v2 core layout nests them.
    """
    bits = "".join(format(b, "08b") for b in core)
    end = len(bits)
    pos = CORE_HEADER_BITS

    def take(n: int) -> int:
        nonlocal pos
        if pos + n > end:
            raise IndexError
        if n == 0:
            return 0
        value = int(bits[pos : pos + n], 2)
        pos += n
        return value

    def ranges(count: int) -> None:
        for _ in range(count):
            is_range = take(1)
            take(16)
            if is_range:
                take(16)

    try:
        for _section in ("vendor consents", "vendor legitimate interests"):
            max_id = take(16)
            if take(1):
                ranges(take(12))
            else:
                take(max_id)  # a bitfield: one bit per vendor id
        for _ in range(take(12)):  # publisher restrictions
            take(6 + 2)
            ranges(take(12))
    except IndexError:
        return False
    return True
