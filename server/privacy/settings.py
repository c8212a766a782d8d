"""Privacy gate settings: one frozen value, validated once at start-up.

Build it from the ``[privacy]`` table of the config file with :meth:`PrivacySettings.from_mapping`,
which reports *every* bad key by name in one :class:`PrivacyConfigError` (the config loader can
fold those messages into its own report)::

    >>> PrivacySettings.from_mapping({"gvl_vendor_id": 123, "required_purposes": [1, 3, 4]})
    PrivacySettings(gvl_vendor_id=123, ...)

Defaults are the *safe* reading of each ambiguous signal, except ``gdpr_default`` (an absent
``regs.gdpr`` is treated as "GDPR does not apply", as Prebid Server's ``gdpr.default_value = 0``;
Index always sends the field for EU traffic in its samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

MAX_VENDOR_ID: Final = 65535  # TCF vendor ids are 16-bit
MAX_PURPOSE_ID: Final = 24  # TCF v2 purpose bitfield width


class PrivacyConfigError(ValueError):
    """Raised by :meth:`PrivacySettings.from_mapping`; ``errors`` names each bad key."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid [privacy] settings: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PrivacySettings:
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

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PrivacySettings:
        """Validate a config mapping; unknown keys are errors (a typo must not silently weaken privacy)."""
        errors: list[str] = []
        known = {f.name for f in fields(cls)}
        errors.extend(f"privacy.{key}: unknown setting" for key in sorted(set(raw) - known))
        values: dict[str, Any] = {}
        for name in ("gdpr_default", "usp_malformed_opt_out", "gpp_malformed_opt_out",
                     "gpp_unknown_section_opt_out", "gpc_opt_out", "tcfca_implied_consent"):
            if name in raw:
                if isinstance(raw[name], bool):
                    values[name] = raw[name]
                else:
                    errors.append(f"privacy.{name}: expected true or false, got {raw[name]!r}")
        for name, low, high in (("gvl_vendor_id", 0, MAX_VENDOR_ID), ("cache_size", 1, 10_000_000),
                                ("max_consent_length", 64, 1_000_000), ("tcfca_vendor_id", 0, MAX_VENDOR_ID)):
            if name in raw:
                value = raw[name]
                if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                    values[name] = value
                else:
                    errors.append(f"privacy.{name}: expected an integer in {low}..{high}, got {value!r}")
        for name in ("required_purposes", "tcfca_required_purposes"):
            if name not in raw:
                continue
            purposes = raw[name]
            ok = isinstance(purposes, (list, tuple)) and all(
                isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= MAX_PURPOSE_ID for p in purposes
            )
            if ok:
                values[name] = tuple(sorted(set(purposes)))
            else:
                errors.append(
                    f"privacy.{name}: expected a list of purpose ids 1..{MAX_PURPOSE_ID}, got {purposes!r}"
                )
        if errors:
            raise PrivacyConfigError(errors)
        return cls(**values)
