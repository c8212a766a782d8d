"""GPP strings, narrowly: the header, TCF (2) and USP (6) passthrough, and US sections 7–23.

raw ``regs.gpp`` → :class:`GppString` (section ids + what each applicable section says) → rules in
:mod:`server.privacy.gate`. No maintained Python GPP decoder exists, so this one reads only what
the gate needs, with the US field tables as data (:mod:`server.privacy.gpp_sections`).

Encoding (Global-Privacy-Platform ``Core/Consent String Specification.md``): sections are joined
by ``~``; the first is the header — ``Type`` int(6) = 3, ``Version`` int(6) = 1, then the section
ids as a *Fibonacci range* (int(12) count; per item a 1-bit "is group", the Fibonacci-coded offset
from the previous id, and for a group the Fibonacci-coded length). Each section is base64url
(no padding) of its bit string, with optional ``.``-separated subsections. Section 2 is a plain
TC string and section 6 a plain US Privacy string: both are handed over raw.

Everything here is total: a malformed header yields ``None``; a malformed section is listed in
``GppString.invalid``. Results (including failures) are cached per string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cachetools import LRUCache

from server.privacy import gpp_sections as s

HEADER_TYPE: Final = 3
GPP_VERSION: Final = 1
MAX_SECTION_ID: Final = 1000  # far above any assigned id; bounds range expansion on garbage
MAX_SECTIONS: Final = 64
GPC_SUBSECTION: Final = 1

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIX_BITS: Final = {c: format(i, "06b") for i, c in enumerate(_ALPHABET)}


class GppError(ValueError):
    """Internal: a string or section that does not decode (never escapes this module)."""


@dataclass(frozen=True, slots=True)
class UsSection:
    """The choices one US section records, reduced to what restricts us."""

    section_id: int
    sale_opt_out: bool
    sharing_opt_out: bool
    targeted_opt_out: bool
    known_child: bool  # any known-child flag set (13–16 or under-13, consent given or not)
    service_provider_mode: bool  # MSPA service-provider mode: no sale/sharing/targeting at all
    gpc: bool  # the optional Gpc subsection

    @property
    def opted_out(self) -> bool:
        return self.sale_opt_out or self.sharing_opt_out or self.targeted_opt_out or self.service_provider_mode


@dataclass(frozen=True, slots=True)
class GppString:
    section_ids: tuple[int, ...]  # as listed in the header, in string order
    tcf: str | None = None  # section 2, raw
    usp: str | None = None  # section 6, raw
    us: tuple[UsSection, ...] = ()
    invalid: frozenset[int] = frozenset()  # listed sections that do not decode (or are missing)

    def us_section(self, section_id: int) -> UsSection | None:
        for section in self.us:
            if section.section_id == section_id:
                return section
        return None


class _Bits:
    """A cursor over a '0'/'1' string; reading past the end raises GppError."""

    __slots__ = ("bits", "pos")

    def __init__(self, encoded: str) -> None:
        try:
            self.bits = "".join([_SIX_BITS[c] for c in encoded])
        except KeyError:
            raise GppError("not base64url") from None
        self.pos = 0

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > len(self.bits):
            raise GppError("truncated")
        value = int(self.bits[self.pos : end], 2)
        self.pos = end
        return value

    def fibonacci(self) -> int:
        """A Fibonacci code word: bits weigh 1, 2, 3, 5, 8, …; the word ends at the first '11'."""
        end = self.bits.find("11", self.pos)
        if end < 0:
            raise GppError("unterminated fibonacci integer")
        value, a, b = 0, 1, 2
        for bit in self.bits[self.pos : end + 1]:
            if bit == "1":
                value += a
            a, b = b, a + b
        self.pos = end + 2
        return value


def decode_header(encoded: str) -> tuple[int, ...]:
    bits = _Bits(encoded)
    if bits.read(6) != HEADER_TYPE or bits.read(6) != GPP_VERSION:
        raise GppError("not a GPP v1 header")
    count = bits.read(12)
    if count > MAX_SECTIONS:
        raise GppError("too many section entries")
    ids: list[int] = []
    last = 0
    for _ in range(count):
        is_group = bits.read(1)
        start = last + bits.fibonacci()
        end = start + bits.fibonacci() if is_group else start
        if end > MAX_SECTION_ID or end - start > MAX_SECTIONS:
            raise GppError("section id out of range")
        ids.extend(range(start, end + 1))
        last = end
    if len(ids) > MAX_SECTIONS:
        raise GppError("too many sections")
    return tuple(ids)


def decode_us_section(layout: s.UsLayout, encoded: str) -> UsSection:
    core, *subsections = encoded.split(".")
    bits = _Bits(core)
    if bits.read(6) != 1:
        raise GppError(f"{layout.name}: unsupported version")
    if layout is s.USNAT and len(bits.bits) < s.USNAT.bits:
        layout = s.USNAT_LEGACY
    values: dict[str, tuple[int, ...]] = {}
    for name, count in layout.fields:
        values[name] = tuple(bits.read(2) for _ in range(count))
    if any(v == 3 for field in values.values() for v in field):
        raise GppError(f"{layout.name}: 2-bit field out of range")
    gpc = False
    for sub in subsections:
        sub_bits = _Bits(sub)
        if sub_bits.read(2) == GPC_SUBSECTION:
            gpc = sub_bits.read(1) == 1

    def flag(name: str) -> bool:
        return values.get(name, (0,))[0] == s.YES

    return UsSection(
        section_id=layout.section_id,
        sale_opt_out=flag(s.SALE_OPT_OUT),
        sharing_opt_out=flag(s.SHARING_OPT_OUT),
        targeted_opt_out=flag(s.TARGETED_OPT_OUT),
        known_child=any(v != s.NOT_APPLICABLE for v in values.get(s.KNOWN_CHILD, ())),
        service_provider_mode=flag(s.MSPA_SERVICE_PROVIDER),
        gpc=gpc,
    )


def decode(raw: str) -> GppString | None:
    """Decode a GPP string; ``None`` if the header itself is unreadable."""
    header, *sections = raw.strip().split("~")
    try:
        ids = decode_header(header)
    except GppError:
        return None
    tcf = usp = None
    us: list[UsSection] = []
    invalid: set[int] = set()
    for index, sid in enumerate(ids):
        body = sections[index] if index < len(sections) else ""
        if not body:
            invalid.add(sid)
        elif sid == s.TCF_EU_V2:
            tcf = body
        elif sid == s.USP_V1:
            usp = body
        elif sid in s.US_LAYOUTS:
            try:
                us.append(decode_us_section(s.US_LAYOUTS[sid], body))
            except GppError:
                invalid.add(sid)
    return GppString(section_ids=ids, tcf=tcf, usp=usp, us=tuple(us), invalid=frozenset(invalid))


_UNDECODABLE: Final = object()


class GppDecoder:
    """:func:`decode` behind an LRU cache (failures cached too). One per worker / event loop."""

    def __init__(self, cache_size: int = 8192, max_length: int = 8192) -> None:
        self.max_length = max_length
        self._cache: LRUCache[str, object] = LRUCache(maxsize=cache_size)

    def decode(self, raw: str) -> GppString | None:
        if len(raw) > self.max_length:
            return None
        cached = self._cache.get(raw)
        if cached is None:
            result = decode(raw)
            cached = _UNDECODABLE if result is None else result
            self._cache[raw] = cached
        return cached if isinstance(cached, GppString) else None

    def clear(self) -> None:
        self._cache.clear()
