"""GPP US section layouts as data: one row per section, fields in wire order.

Every US section (national and state) is ``Version`` (int 6) followed only by 2-bit integers
(0 = not applicable, 1 = yes/opted out/no consent, 2 = no/did not opt out/consent), some of them
repeated (``N-Bitfield(2, n)``). So a layout is just the ordered list of (field, count) pairs and a
single generic reader serves all of them.

Sources (read 2026-11): InteractiveAdvertisingBureau/Global-Privacy-Platform @b27beb41
``Sections/Section Information.md`` (ids) and the per-state technical specifications for 7–12
and 23; IABTechLab/iabgpp-java @a51d55f0 ``segment/Us*CoreSegment.java`` for 13–22 (same
tables, and the only machine-readable source). Sections 24–27 (MD, IN, KY, RI) use a new draft
layout (a SectionID/MspaVersion prefix) not yet in any maintained decoder: they are *known* ids
that we do not decode, i.e. "unknown" to the gate.

``Gpc`` is not a core field: it lives in an optional ``.``-separated subsection
(``SubsectionType`` int 2 == 1, then a 1-bit ``Gpc``), read by :mod:`server.privacy.gpp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Field names exactly as the spec spells them.
SHARING_NOTICE: Final = "SharingNotice"
PROCESSING_NOTICE: Final = "ProcessingNotice"
SALE_NOTICE: Final = "SaleOptOutNotice"
SHARING_OPT_OUT_NOTICE: Final = "SharingOptOutNotice"
TARGETED_NOTICE: Final = "TargetedAdvertisingOptOutNotice"
SENSITIVE_NOTICE: Final = "SensitiveDataProcessingOptOutNotice"
SENSITIVE_DATA_NOTICE: Final = "SensitiveDataOptOutNotice"  # Iowa's spelling
SENSITIVE_LIMIT_NOTICE: Final = "SensitiveDataLimitUseNotice"
SALE_OPT_OUT: Final = "SaleOptOut"
SHARING_OPT_OUT: Final = "SharingOptOut"
TARGETED_OPT_OUT: Final = "TargetedAdvertisingOptOut"
SENSITIVE: Final = "SensitiveDataProcessing"
KNOWN_CHILD: Final = "KnownChildSensitiveDataConsents"
PERSONAL_DATA: Final = "PersonalDataConsents"
ADDITIONAL: Final = "AdditionalDataProcessingConsent"
MSPA_COVERED: Final = "MspaCoveredTransaction"
MSPA_OPT_OUT_MODE: Final = "MspaOptOutOptionMode"
MSPA_SERVICE_PROVIDER: Final = "MspaServiceProviderMode"

# 2-bit values
NOT_APPLICABLE: Final = 0
YES: Final = 1  # opted out / notice given / *no* consent (for consent fields)
NO: Final = 2

_MSPA: Final = ((MSPA_COVERED, 1), (MSPA_OPT_OUT_MODE, 1), (MSPA_SERVICE_PROVIDER, 1))


@dataclass(frozen=True, slots=True)
class UsLayout:
    section_id: int
    name: str  # the client-side API prefix
    fields: tuple[tuple[str, int], ...]  # (field, number of 2-bit values) after Version(6)

    @property
    def bits(self) -> int:
        return 6 + 2 * sum(count for _, count in self.fields)


def _state(sid: int, name: str, notice: str, sensitive: int, child: int, *, additional: bool,
           extra_notice: str | None = None) -> UsLayout:
    """The common post-2024 state layout; ``extra_notice`` is Utah's/Iowa's sensitive-data notice."""
    head: tuple[tuple[str, int], ...] = ((notice, 1), (SALE_NOTICE, 1), (TARGETED_NOTICE, 1))
    if extra_notice:
        head += ((extra_notice, 1),)
    body: tuple[tuple[str, int], ...] = (
        (SALE_OPT_OUT, 1), (TARGETED_OPT_OUT, 1), (SENSITIVE, sensitive), (KNOWN_CHILD, child),
    )
    if additional:
        body += ((ADDITIONAL, 1),)
    return UsLayout(sid, name, head + body + _MSPA)


USNAT: Final = UsLayout(7, "usnat", (
    (SHARING_NOTICE, 1), (SALE_NOTICE, 1), (SHARING_OPT_OUT_NOTICE, 1), (TARGETED_NOTICE, 1),
    (SENSITIVE_NOTICE, 1), (SENSITIVE_LIMIT_NOTICE, 1), (SALE_OPT_OUT, 1), (SHARING_OPT_OUT, 1),
    (TARGETED_OPT_OUT, 1), (SENSITIVE, 16), (KNOWN_CHILD, 3), (PERSONAL_DATA, 1), *_MSPA,
))
# usnat before the 2024 DE/IA/NE/NH/NJ/TN release: 12 sensitive categories, 2 child flags, still
# Version 1 — only the length tells them apart (iabgpp-java does the same: 60/66-bit cores).
USNAT_LEGACY: Final = UsLayout(7, "usnat", tuple(
    (name, {SENSITIVE: 12, KNOWN_CHILD: 2}.get(name, count)) for name, count in USNAT.fields
))

US_LAYOUTS: Final[dict[int, UsLayout]] = {layout.section_id: layout for layout in (
    USNAT,
    UsLayout(8, "usca", (
        (SALE_NOTICE, 1), (SHARING_OPT_OUT_NOTICE, 1), (SENSITIVE_LIMIT_NOTICE, 1), (SALE_OPT_OUT, 1),
        (SHARING_OPT_OUT, 1), (SENSITIVE, 9), (KNOWN_CHILD, 2), (PERSONAL_DATA, 1), *_MSPA,
    )),
    _state(9, "usva", SHARING_NOTICE, 8, 1, additional=False),
    _state(10, "usco", SHARING_NOTICE, 7, 1, additional=False),
    _state(11, "usut", SHARING_NOTICE, 8, 1, additional=False, extra_notice=SENSITIVE_NOTICE),
    _state(12, "usct", SHARING_NOTICE, 8, 3, additional=False),
    _state(13, "usfl", PROCESSING_NOTICE, 8, 3, additional=True),
    _state(14, "usmt", SHARING_NOTICE, 8, 3, additional=True),
    _state(15, "usor", PROCESSING_NOTICE, 11, 3, additional=True),
    _state(16, "ustx", PROCESSING_NOTICE, 8, 1, additional=True),
    _state(17, "usde", PROCESSING_NOTICE, 9, 5, additional=True),
    _state(18, "usia", PROCESSING_NOTICE, 8, 1, additional=False, extra_notice=SENSITIVE_DATA_NOTICE),
    _state(19, "usne", PROCESSING_NOTICE, 8, 1, additional=True),
    _state(20, "usnh", PROCESSING_NOTICE, 8, 3, additional=True),
    _state(21, "usnj", PROCESSING_NOTICE, 10, 5, additional=True),
    _state(22, "ustn", PROCESSING_NOTICE, 8, 1, additional=True),
    _state(23, "usmn", PROCESSING_NOTICE, 8, 1, additional=True),
)}

TCF_EU_V2: Final = 2
HEADER: Final = 3  # never listed in gpp_sid (OpenRTB 2.6)
SIGNAL_INTEGRITY: Final = 4  # never listed in gpp_sid
USP_V1: Final = 6
NOT_A_SIGNAL: Final = frozenset({HEADER, SIGNAL_INTEGRITY})
