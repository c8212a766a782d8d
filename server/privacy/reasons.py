"""Reason codes: the stable, countable names of every privacy rule.

A :class:`~server.signals.PrivacyDecision` carries one ``reason`` (the first rule, in table
order, that restricted the request — or ``"allowed"``) and ``reasons`` (every rule that fired,
including notes that did not restrict). They are metric label values, so they never change
meaning; :data:`REASONS` lists them all so the ``/rtd`` handler can pre-bind label children.
"""

from __future__ import annotations

from typing import Final

ALLOWED: Final = "allowed"
COPPA: Final = "coppa"
GDPR_MISSING_CONSENT: Final = "gdpr_missing_consent"  # gdpr applies, no TCF string anywhere
GDPR_INVALID_CONSENT: Final = "gdpr_invalid_consent"  # a TCF string that does not decode
GDPR_NO_VENDOR_ID: Final = "gdpr_no_vendor_id"  # we have no GVL id configured: consent is impossible
GDPR_NO_CONSENT: Final = "gdpr_no_consent"  # decoded, but our vendor or a required purpose lacks consent
TCFCA_NO_VENDOR_ID: Final = "tcfca_no_vendor_id"  # GPP section 5 applies, no Canadian vendor id configured
TCFCA_NO_CONSENT: Final = "tcfca_no_consent"  # section 5 decoded: our vendor or a purpose lacks consent
USP_OPT_OUT: Final = "usp_opt_out"
USP_INVALID: Final = "usp_invalid"
GPP_INVALID: Final = "gpp_invalid"  # undecodable GPP string or applicable section, header/body mismatch
GPP_UNKNOWN_SECTION: Final = "gpp_unknown_section"  # an applicable section id we cannot read
GPP_DEPRECATED_SECTION: Final = "gpp_deprecated_section"  # section 1 (EU TCF v1): never valid consent
GPP_US_OPT_OUT: Final = "gpp_us_opt_out"  # sale / sharing / targeted-ads opt-out, or service-provider mode
GPP_US_CHILD: Final = "gpp_us_child"  # a known-child flag in a US section
GPC: Final = "gpc"
LMT: Final = "lmt"
INTERNAL_ERROR: Final = "internal_error"  # a bug in the gate; the safest decision was returned

REASONS: Final[tuple[str, ...]] = (
    ALLOWED,
    COPPA,
    GDPR_MISSING_CONSENT,
    GDPR_INVALID_CONSENT,
    GDPR_NO_VENDOR_ID,
    GDPR_NO_CONSENT,
    USP_OPT_OUT,
    USP_INVALID,
    GPP_INVALID,
    GPP_UNKNOWN_SECTION,
    GPP_US_OPT_OUT,
    GPP_US_CHILD,
    GPC,
    LMT,
    INTERNAL_ERROR,
    TCFCA_NO_VENDOR_ID,
    TCFCA_NO_CONSENT,
    GPP_DEPRECATED_SECTION,
)
