"""Privacy gate settings: one frozen value, validated once at start-up.

The one settings loader (:mod:`server.sections`) builds it from the ``[privacy]`` table and
reports *every* bad key by name in one :class:`~server.errors.SettingsError`::

    >>> PrivacySettings.from_mapping({"gvl_vendor_id": 123, "required_purposes": [1, 3, 4]})
    PrivacySettings(gvl_vendor_id=123, ...)

Defaults are the *safe* reading of each ambiguous signal, except ``gdpr_default`` (an absent
``regs.gdpr`` is treated as "GDPR does not apply", as Prebid Server's ``gdpr.default_value = 0``;
Index always sends the field for EU traffic in its samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from server.errors import SettingsError
from server.sections import Section

MAX_VENDOR_ID: Final = 65535  # TCF vendor ids are 16-bit
MAX_PURPOSE_ID: Final = 24  # TCF v2 purpose bitfield width


#: The name :mod:`server.privacy` exports; the same class as every other settings error.
PrivacyConfigError = SettingsError

#: Integer settings and their allowed ranges.
_RANGES: Final = (("gvl_vendor_id", 0, MAX_VENDOR_ID), ("cache_size", 1, 10_000_000),
                  ("max_consent_length", 64, 1_000_000), ("tcfca_vendor_id", 0, MAX_VENDOR_ID))


@dataclass(frozen=True, slots=True)
class PrivacySettings(Section):
    section: ClassVar[str] = "privacy"

    # Our IAB Global Vendor List id. 0 = "not registered": under GDPR nobody can have consented
    # to us, so every gdpr=1 request is contextual-only (reason gdpr_no_vendor_id).
    gvl_vendor_id: int = 0
    # TCF purposes that need consent for user-level lookups: 1 store/access on device,
    # 3 create a personalised-ads profile, 4 use it to select ads.
    required_purposes: tuple[int, ...] = (1, 3, 4)
    # What an absent regs.gdpr means. False = GDPR does not apply.
    gdpr_default: bool = False
    # A malformed us_privacy string: True = treat as opt-out, False = ignore (note usp_invalid).
    usp_malformed_opt_out: bool = True
    # An undecodable GPP string or applicable section: True = opt-out, False = ignore.
    gpp_malformed_opt_out: bool = True
    # An applicable GPP section we do not decode (Canada 5, US 24+): True = opt-out.
    gpp_unknown_section_opt_out: bool = True
    # Sec-GPC: 1 / regs.ext.gpc / a GPP Gpc subsection: True = US opt-out of sale/sharing.
    gpc_opt_out: bool = True
    # Decoded consent strings kept per worker (TCF and GPP caches each).
    cache_size: int = 8192
    # Longer consent strings are rejected undecoded (bounds decode time and cache memory).
    max_consent_length: int = 8192
    # Our IAB Canada vendor id, for GPP section 5 (tcfcav1). 0 = not registered: where Canada's TCF
    # applies nobody can have consented to us, so such requests are contextual-only (tcfca_no_vendor_id).
    tcfca_vendor_id: int = 0
    # TCF Canada purposes needing consent (3 create a personalised-ads profile, 4 use it; the spec
    # notes purpose 1's bit is not used in TCF Canada).
    tcfca_required_purposes: tuple[int, ...] = (3, 4)
    # Whether implied consent (TCF Canada's counterpart of legitimate interest) suffices;
    # false = express consent only.
    tcfca_implied_consent: bool = True

    def __post_init__(self) -> None:
        # A set in spirit: order and repeats in the config do not matter.
        object.__setattr__(self, "required_purposes", tuple(sorted(set(self.required_purposes))))
        object.__setattr__(self, "tcfca_required_purposes", tuple(sorted(set(self.tcfca_required_purposes))))

    def validate(self, section: str) -> list[str]:
        """Unknown keys are reported by the loader (a typo must not silently weaken privacy)."""
        errors = [f"{name}: expected an integer in {low}..{high}, got {getattr(self, name)!r}"
                  for name, low, high in _RANGES if not low <= getattr(self, name) <= high]
        for name in ("required_purposes", "tcfca_required_purposes"):
            purposes = getattr(self, name)
            if not all(1 <= p <= MAX_PURPOSE_ID for p in purposes):
                errors.append(f"{name}: expected purpose ids 1..{MAX_PURPOSE_ID}, got {list(purposes)!r}")
        return errors
