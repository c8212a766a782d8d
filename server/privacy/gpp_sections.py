"""GPP US section layouts as data: one row per section, fields in wire order.

Every US section (national and state) is ``Version`` (int 6) followed only by 2-bit integers
(0 = not applicable, 1 = yes/opted out/no consent, 2 = no/did not opt out/consent), some of them
repeated (``N-Bitfield(2, n)``). So a layout is just the ordered list of (field, count) pairs and a
single generic reader serves all of them.

Sources (read 2026-12): InteractiveAdvertisingBureau/Global-Privacy-Platform @b27beb41
``Sections/Section Information.md`` (ids 1–23), the per-state technical specifications (7–12, 23,
and 24–27, whose ids each spec registers); IABTechLab/iabgpp-java (master @a51d55f0, branch 4.X
@1fc490e9 for usnat Version 2, @86578d01 for 24–27) and IABTechLab/iabgpp-es @fd0546e7
(``encoder/field/Us*Field.ts``), the machine-readable forms of the same tables.

usnat (7) has two layouts, chosen by its ``Version`` field (see :func:`usnat_layout`). Sections
24–27 (MD, IN, KY, RI) start with ``MspaVersion`` and fold the two MSPA mode flags into one
``MspaMode`` (1 = opt-out option mode, 2 = service-provider mode); the spec prefixes them with a
section header (SectionID, Version, SubSections), which iabgpp-java writes and iabgpp-es does not —
:mod:`server.privacy.gpp` reads both.

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
MSPA_VERSION: Final = "MspaVersion"
MSPA_MODE: Final = "MspaMode"  # 24–27: 0 n/a, 1 opt-out option mode, 2 service-provider mode
MSPA_MODE_SERVICE_PROVIDER: Final = 2

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
    version: int = 1  # the value of the leading 6-bit field (usnat: Version; 24–27: MspaVersion, any)
    sensitive_subsection: int = 0  # 24–27: the optional SensitiveDataProcessing subsection's 2-bit values

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


# usnat Version 2 (US National v2.0, Oct 2024): 16 sensitive-data categories, 3 known-child flags.
USNAT_V2: Final = UsLayout(7, "usnat", (
    (SHARING_NOTICE, 1), (SALE_NOTICE, 1), (SHARING_OPT_OUT_NOTICE, 1), (TARGETED_NOTICE, 1),
    (SENSITIVE_NOTICE, 1), (SENSITIVE_LIMIT_NOTICE, 1), (SALE_OPT_OUT, 1), (SHARING_OPT_OUT, 1),
    (TARGETED_OPT_OUT, 1), (SENSITIVE, 16), (KNOWN_CHILD, 3), (PERSONAL_DATA, 1), *_MSPA,
), version=2)
# usnat Version 1: 12 sensitive-data categories, 2 known-child flags (60 bits).
USNAT_V1: Final = UsLayout(7, "usnat", tuple(
    (name, {SENSITIVE: 12, KNOWN_CHILD: 2}.get(name, count)) for name, count in USNAT_V2.fields
), version=1)
USNAT: Final = USNAT_V2  # the table entry; decoding picks the layout by version
# Encoders released with the 2024 DE/IA/NE/NH/NJ/TN sections wrote the Version 2 layout while still
# writing Version = 1. iabgpp-java 4.X (UsNatCoreSegment.decodeBitString) reads a Version 1 core of
# 72 bits or more as Version 2; anything shorter is the 60-bit Version 1 layout (+ 6 bits of zero
# fill from older encoders = 66). iabgpp-es reads the same lengths the same way. So a Version 1 core
# cut to exactly 60 or 66 bits reads as Version 1 — indistinguishable from a genuine one.
USNAT_V2_AS_V1_MIN_BITS: Final = 72


def usnat_layout(version: int, bit_length: int) -> UsLayout | None:
    """The usnat layout a core of ``bit_length`` bits with this ``Version`` is read with (None:
    unsupported)."""
    if version == 2:
        return USNAT_V2  # a shorter core is truncated, i.e. malformed
    if version == 1:
        return USNAT_V2 if bit_length >= USNAT_V2_AS_V1_MIN_BITS else USNAT_V1
    return None


def _mspa_state(sid: int, name: str, *, child: bool, sensitive: int) -> UsLayout:
    """24–27: MspaVersion(6) first, MspaMode instead of two mode flags, one known-child value."""
    fields: tuple[tuple[str, int], ...] = (
        (MSPA_COVERED, 1), (MSPA_MODE, 1), (PROCESSING_NOTICE, 1), (SALE_NOTICE, 1), (TARGETED_NOTICE, 1),
        (SALE_OPT_OUT, 1), (TARGETED_OPT_OUT, 1),
    )
    if child:
        fields += ((KNOWN_CHILD, 1),)
    return UsLayout(sid, name, (*fields, (ADDITIONAL, 1)), version=0, sensitive_subsection=sensitive)


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
    _mspa_state(24, "usmd", child=False, sensitive=0),  # Maryland: a Gpc subsection instead
    _mspa_state(25, "usin", child=True, sensitive=8),
    _mspa_state(26, "usky", child=True, sensitive=8),
    _mspa_state(27, "usri", child=True, sensitive=8),
)}
MSPA_STATES: Final = frozenset({24, 25, 26, 27})  # layouts with MspaVersion first and MspaMode

TCF_EU_V1: Final = 1  # deprecated: see DEPRECATED
TCF_EU_V2: Final = 2
HEADER: Final = 3  # never listed in gpp_sid (OpenRTB 2.6)
SIGNAL_INTEGRITY: Final = 4  # never listed in gpp_sid
TCF_CA_V1: Final = 5
USP_V1: Final = 6
NOT_A_SIGNAL: Final = frozenset({HEADER, SIGNAL_INTEGRITY})
PASSTHROUGH_IDS: Final = frozenset({TCF_EU_V2, TCF_CA_V1, USP_V1})  # bodies handed raw to their own parser
# Section 1 (EU TCF v1) is listed as deprecated in the registry; IAB Europe retired TCF v1 strings
# on 2020-08-15, so none is valid consent. Its documented meaning — "the EU TCF applies" — is kept
# (GDPR applies), and the section itself gets the named reason ``gpp_deprecated_section``.
DEPRECATED: Final = frozenset({TCF_EU_V1})

# Every id in the GPP section registry and what this package does with it (one row per id).
DECODED: Final = "decoded"
PASSTHROUGH: Final = "decoded by its own regime's parser"
REGISTRY: Final[dict[int, tuple[str, str]]] = {
    TCF_EU_V1: ("tcfeuv1", "deprecated: GDPR applies, the section itself is never consent"),
    TCF_EU_V2: ("tcfeuv2", PASSTHROUGH),  # server.privacy.tcf
    HEADER: ("header", "not a signal: the GPP header itself"),
    SIGNAL_INTEGRITY: ("signalintegrity", "not a signal: reserved for GPP signal integrity"),
    TCF_CA_V1: ("tcfcav1", DECODED),  # server.privacy.tcfca
    USP_V1: ("uspv1", PASSTHROUGH),  # server.privacy.usp
    **{sid: (layout.name, DECODED) for sid, layout in US_LAYOUTS.items()},
}
