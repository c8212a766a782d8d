"""GPP strings: the header, every US section (7–27), and the raw bodies of sections 1, 2, 5 and 6.

raw ``regs.gpp`` → :class:`GppString` (section ids + what each applicable section says) → rules in
:mod:`server.privacy.gate`. No maintained Python GPP decoder exists, so this one reads only what
the gate needs, with the US field tables as data (:mod:`server.privacy.gpp_sections`). Sections 2
(EU TCF), 5 (Canada TCF) and 6 (US Privacy) are handed over raw to their own parsers; section 1
(EU TCF v1, deprecated) is recognised and never read as consent.

Encoding (Global-Privacy-Platform ``Core/Consent String Specification.md``): sections are joined
by ``~``; the first is the header — ``Type`` int(6) = 3, ``Version`` int(6) = 1, then the section
ids as a *Fibonacci range* (int(12) count; per item a 1-bit "is group", the Fibonacci-coded offset
from the previous id, and for a group the Fibonacci-coded length). Each section is base64url
(no padding) of its bit string, with optional ``.``-separated subsections. Section 2 is a plain
TC string and section 6 a plain US Privacy string: both are handed over raw.

Everything here is total: a malformed header yields ``None``; a malformed section — or a listed
one whose body is missing or empty — is listed in ``GppString.invalid``; a header whose section
count differs from the number of bodies sets ``GppString.mismatch`` (iabgpp-java and iabgpp-es
reject such a string outright: "number of sections does not match"). Results (including failures)
are cached per string, only for strings within the configured maximum length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cachetools import LRUCache

from server.privacy import gpp_sections as s
from server.privacy.bits import Bits, GppError

HEADER_TYPE: Final = 3
GPP_VERSION: Final = 1
MAX_SECTION_ID: Final = 1000  # far above any assigned id; bounds range expansion on garbage
MAX_SECTIONS: Final = 64
GPC_SUBSECTION: Final = 1
STATE_HEADER_VERSION: Final = 1  # 24–27: the section header's own Version field
SENSITIVE_SUBSECTION: Final = 1  # 24–27: subsection id of SensitiveDataProcessing (MD: Gpc)

__all__ = ["GppDecoder", "GppError", "GppString", "UsSection", "decode", "decode_header", "decode_us_section"]


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
        return (self.sale_opt_out or self.sharing_opt_out or self.targeted_opt_out
                or self.service_provider_mode)


@dataclass(frozen=True, slots=True)
class GppString:
    section_ids: tuple[int, ...]  # as listed in the header, in string order
    tcf: str | None = None  # section 2, raw
    usp: str | None = None  # section 6, raw
    tcfca: str | None = None  # section 5, raw
    us: tuple[UsSection, ...] = ()
    invalid: frozenset[int] = frozenset()  # listed sections that do not decode (or are missing)
    mismatch: bool = False  # the header lists more or fewer sections than the string holds

    def us_section(self, section_id: int) -> UsSection | None:
        for section in self.us:
            if section.section_id == section_id:
                return section
        return None


def decode_header(encoded: str) -> tuple[int, ...]:
    bits = Bits(encoded)
    if bits.read(6) != HEADER_TYPE or bits.read(6) != GPP_VERSION:
        raise GppError("not a GPP v1 header")
    return _id_range(bits)


def _id_range(bits: Bits) -> tuple[int, ...]:
    """A ``Range (Fibonacci)`` of section (or subsection) ids, bounded against garbage."""
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
    """One US section (7–27): the core's 2-bit fields by the layout table, then its subsections."""
    core, subsections = _split_state_header(layout, encoded)
    bits = Bits(core)
    version = bits.read(6)
    if layout.section_id == s.USNAT.section_id:
        chosen = s.usnat_layout(version, len(bits))
        if chosen is None:
            raise GppError(f"usnat: unsupported version {version}")
        layout = chosen
    elif layout.section_id not in s.MSPA_STATES and version != layout.version:
        raise GppError(f"{layout.name}: unsupported version {version}")
    values: dict[str, tuple[int, ...]] = {}
    for name, count in layout.fields:
        values[name] = tuple(bits.read(2) for _ in range(count))
    if any(v == 3 for field in values.values() for v in field):
        raise GppError(f"{layout.name}: 2-bit field out of range")
    gpc = False
    for sub in subsections:
        sub_bits = Bits(sub)
        if layout.sensitive_subsection:  # 24–27 other than MD: SensitiveDataProcessing, no type field
            if any(sub_bits.read(2) == 3 for _ in range(layout.sensitive_subsection)):
                raise GppError(f"{layout.name}: 2-bit field out of range")
        elif sub_bits.read(2) == GPC_SUBSECTION:
            gpc = sub_bits.read(1) == 1

    def flag(name: str) -> bool:
        return values.get(name, (0,))[0] == s.YES

    return UsSection(
        section_id=layout.section_id,
        sale_opt_out=flag(s.SALE_OPT_OUT),
        sharing_opt_out=flag(s.SHARING_OPT_OUT),
        targeted_opt_out=flag(s.TARGETED_OPT_OUT),
        known_child=any(v != s.NOT_APPLICABLE for v in values.get(s.KNOWN_CHILD, ())),
        service_provider_mode=flag(s.MSPA_SERVICE_PROVIDER)
        or values.get(s.MSPA_MODE, (0,))[0] == s.MSPA_MODE_SERVICE_PROVIDER,
        gpc=gpc,
    )


def _split_state_header(layout: s.UsLayout, encoded: str) -> tuple[str, list[str]]:
    """The core and subsections of a section; for 24–27, past the spec's optional section header.

    The MD/IN/KY/RI specifications put ``SectionID`` int(6), ``Version`` int(6) and a Fibonacci
    range of subsection ids before the core (iabgpp-java @86578d01: ``ZBABYA.BVVV.kkk``);
    iabgpp-es @fd0546e7 writes the core first (``BVVV.kkk``). The first six bits tell them apart:
    the section's own id (24–27) there, ``MspaVersion`` here. With a header, every listed
    subsection must be present (iabgpp-java ``AbstractUsSectionWithHeader``).
    """
    first, *rest = encoded.split(".")
    if layout.section_id not in s.MSPA_STATES or Bits(first).peek(6) != layout.section_id:
        return first, rest
    header = Bits(first)
    header.read(6)
    if header.read(6) != STATE_HEADER_VERSION:
        raise GppError(f"{layout.name}: unsupported section header version")
    listed = _id_range(header)
    if not rest or len(rest) - 1 < len(listed) or any(sid != SENSITIVE_SUBSECTION for sid in listed):
        raise GppError(f"{layout.name}: subsections do not match the section header")
    return rest[0], rest[1 : 1 + len(listed)]


def decode(raw: str) -> GppString | None:
    """Decode a GPP string; ``None`` if the header itself is unreadable."""
    header, *sections = raw.strip().split("~")
    try:
        ids = decode_header(header)
    except GppError:
        return None
    tcf = usp = tcfca = None
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
        elif sid == s.TCF_CA_V1:
            tcfca = body
        elif sid in s.US_LAYOUTS:
            try:
                us.append(decode_us_section(s.US_LAYOUTS[sid], body))
            except GppError:
                invalid.add(sid)
    return GppString(section_ids=ids, tcf=tcf, usp=usp, tcfca=tcfca, us=tuple(us), invalid=frozenset(invalid),
                     mismatch=len(sections) != len(ids))


_UNDECODABLE: Final = object()


class GppDecoder:
    """:func:`decode` behind an LRU cache (failures cached too). One per worker / event loop.

    Bounded by entries (``cache_size``) and by entry size: a string longer than ``max_length``
    (``[privacy] max_consent_length``) is refused before it is decoded or cached."""

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
