"""The rule table, one signal at a time and in the combinations that matter, with real strings."""

from __future__ import annotations

from typing import Any

import privacy_vectors as v
import pytest

from segments.keys import CONTEXTUAL_KINDS, IFA, USER_LEVEL_KINDS
from server.privacy import REASONS, RULES, PrivacyGate, PrivacySettings
from server.privacy import reasons as r
from server.privacy.gate import ALL_KINDS, SAFEST
from server.signals import PrivacyDecision, PrivacySignals

OUR_VENDOR = 8  # consented in TCF_ALL_PURPOSES
SETTINGS = PrivacySettings(gvl_vendor_id=OUR_VENDOR)

ALLOW = (ALL_KINDS, True, False)
CONTEXTUAL = (CONTEXTUAL_KINDS, False, False)
CHILD = (CONTEXTUAL_KINDS, False, True)
NO_IFA = (ALL_KINDS - {IFA}, True, False)


def fibonacci(value: int) -> str:
    """The spec's Fibonacci code word (Zeckendorf bits, weight 1 first, then a closing 1)."""
    weights = [1, 2]
    while weights[-1] <= value:
        weights.append(weights[-1] + weights[-2])
    bits = ["0"] * len(weights)
    for i in reversed(range(len(weights))):
        if weights[i] <= value:
            bits[i], value = "1", value - weights[i]
    return "".join(bits).rstrip("0") + "1"


def with_header(*sections: tuple[int, str]) -> str:
    """A GPP string: a header listing the ids (single items), then the given section bodies.

    Only the header is built here; every body is a published string from ``privacy_vectors``.
    """
    bits = "000011" + "000001" + format(len(sections), "012b")
    last = 0
    for sid, _ in sections:
        bits += "0" + fibonacci(sid - last)
        last = sid
    bits += "0" * (-len(bits) % 6)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    header = "".join(alphabet[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))
    return "~".join([header, *(body for _, body in sections)])


def test_with_header_matches_the_spec_examples() -> None:
    assert with_header((2, "x")).split("~")[0] == "DBABM"  # spec example 1
    assert with_header((2, "x"), (6, "y")).split("~")[0] == "DBACNY"  # spec example 2


# A TCF v1.1 string: the example in InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework
# "Consent string and vendor list formats v1.1 Final.md" (also in prebid-server-java's GDPR tests).
TCF_V1 = "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"


def decide(settings: PrivacySettings = SETTINGS, **signals: Any) -> PrivacyDecision:
    return PrivacyGate(settings).decide(PrivacySignals(**signals))


def check(decision: PrivacyDecision, outcome: tuple[frozenset[str], bool, bool], reason: str) -> None:
    kinds, mirror, truncate = outcome
    assert (decision.allowed_kinds, decision.mirror_allowed, decision.truncate_ip, decision.reason) == (
        kinds, mirror, truncate, reason)
    assert decision.reason in REASONS
    assert set(decision.reasons) <= set(REASONS)


SINGLE_SIGNALS = [
    pytest.param({}, ALLOW, r.ALLOWED, id="no signals"),
    pytest.param({"coppa": 0, "gdpr": 0, "us_privacy": "1---", "gpp": "", "gpp_sid": ()}, ALLOW, r.ALLOWED,
                 id="Index app sample regs"),
    pytest.param({"gdpr": 0}, ALLOW, r.ALLOWED, id="Index web sample regs"),
    # COPPA
    pytest.param({"coppa": 1}, CHILD, r.COPPA, id="coppa"),
    pytest.param({"coppa": 7}, CHILD, r.COPPA, id="coppa garbage int"),
    # GDPR / TCF
    pytest.param({"gdpr": 1, "consent": v.TCF_ALL_PURPOSES}, ALLOW, r.ALLOWED, id="gdpr with full consent"),
    pytest.param({"gdpr": 1}, CONTEXTUAL, r.GDPR_MISSING_CONSENT, id="gdpr without string"),
    pytest.param({"gdpr": 1, "consent": ""}, CONTEXTUAL, r.GDPR_MISSING_CONSENT, id="gdpr with empty string"),
    pytest.param({"gdpr": 1, "consent": "garbage"}, CONTEXTUAL, r.GDPR_INVALID_CONSENT,
                 id="gdpr garbage string"),
    pytest.param({"gdpr": 1, "consent": v.TCF_PURPOSE_1_ONLY}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 id="gdpr purpose 1 only"),
    pytest.param({"gdpr": 1, "consent": v.TCF_NO_PURPOSES}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 id="gdpr vendor list without our vendor"),
    pytest.param({"gdpr": 1, "consent": v.TCF_EMPTY}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 id="gdpr nothing consented"),
    pytest.param({"gdpr": 0, "consent": "garbage"}, ALLOW, r.ALLOWED, id="gdpr=0 ignores the string"),
    pytest.param({"consent": v.TCF_EMPTY}, ALLOW, r.ALLOWED, id="gdpr absent defaults to not applies"),
    pytest.param({"gdpr": 2, "consent": v.TCF_ALL_PURPOSES}, ALLOW, r.ALLOWED,
                 id="gdpr garbage applies, consented"),
    pytest.param({"gdpr": 2}, CONTEXTUAL, r.GDPR_MISSING_CONSENT, id="gdpr garbage applies, no string"),
    # US Privacy
    pytest.param({"us_privacy": "1YYN"}, CONTEXTUAL, r.USP_OPT_OUT, id="usp opt-out"),
    pytest.param({"us_privacy": "1YNN"}, ALLOW, r.ALLOWED, id="usp no opt-out"),
    pytest.param({"us_privacy": "1---"}, ALLOW, r.ALLOWED, id="usp not applicable"),
    pytest.param({"us_privacy": "bogus"}, CONTEXTUAL, r.USP_INVALID,
                 id="usp malformed -> opt-out by default"),
    # GPP
    pytest.param({"gpp": v.GPP_USP_OPT_OUT, "gpp_sid": (6,)}, CONTEXTUAL, r.USP_OPT_OUT,
                 id="gpp section 6 opt-out"),
    pytest.param({"gpp": v.GPP_USP_NO_OPT_OUT, "gpp_sid": (6,)}, ALLOW, r.ALLOWED,
                 id="gpp section 6 no opt-out"),
    pytest.param({"gpp": v.GPP_TCF_AND_USP, "gpp_sid": (2,)}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 id="gpp section 2 means gdpr applies"),
    pytest.param({"gpp": v.GPP_TCF_WITH_VENDORS, "gpp_sid": (2,)}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 id="gpp section 2 vendors without purposes"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_OPTED_OUT, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_US_CHILD,
                 id="usnat opt-out + child"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_LEGACY_NOT_OPTED_OUT, "gpp_sid": (7,)}, ALLOW, r.ALLOWED,
                 id="usnat did not opt out"),
    pytest.param({"gpp": v.GPP_USNAT_CHILD, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_US_CHILD,
                 id="usnat known child"),
    pytest.param({"gpp": v.GPP_USNAT_LEGACY_DEFAULTS, "gpp_sid": (7,)}, ALLOW, r.ALLOWED,
                 id="usnat defaults"),
    pytest.param({"gpp": v.GPP_USNAT_LEGACY_DEFAULTS, "gpp_sid": (8,)}, CONTEXTUAL, r.GPP_INVALID,
                 id="sid names a section the string lacks"),
    pytest.param({"gpp": "DBABLA~z", "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_INVALID, id="undecodable usnat"),
    pytest.param({"gpp": "garbage"}, CONTEXTUAL, r.GPP_INVALID, id="undecodable gpp string"),
    pytest.param({"gpp": "", "gpp_sid": ()}, ALLOW, r.ALLOWED, id="empty gpp (Index sample)"),
    pytest.param({"gpp": v.GPP_TCF_CA_USP, "gpp_sid": (5,)}, CONTEXTUAL, r.TCFCA_NO_VENDOR_ID,
                 id="canada section applies, no Canadian vendor id configured"),
    pytest.param({"gpp": v.GPP_USP_NO_OPT_OUT, "gpp_sid": (6, 3, 4)}, ALLOW, r.ALLOWED,
                 id="header and signal-integrity ids ignored"),
    pytest.param({"gpp_sid": (7,)}, CONTEXTUAL, r.GPP_INVALID, id="sid without a gpp string"),
    pytest.param({"gpp_sid": (6,), "us_privacy": "1YNN"}, CONTEXTUAL, r.USP_INVALID,
                 id="sid 6 without gpp string: stricter of the two"),
    pytest.param({"gpp_sid": (25,)}, CONTEXTUAL, r.GPP_INVALID, id="sid 25 without a gpp string"),
    # usnat Version 2 and the states 24–27
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_OPTED_OUT, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_US_CHILD,
                 id="usnat v2 opt-out + child"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_DEFAULTS, "gpp_sid": (7,)}, ALLOW, r.ALLOWED,
                 id="usnat v2 defaults"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_THIRD_CHILD, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_US_CHILD,
                 id="usnat v2 third child flag"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_SHORT_66, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_INVALID,
                 id="usnat v2 core of legacy length is malformed"),
    pytest.param({"gpp": v.GPP_ALL_SECTIONS_ES, "gpp_sid": (24, 25, 26, 27)}, ALLOW, r.ALLOWED,
                 id="states 24-27 at defaults"),
    pytest.param({"gpp": with_header((24, v.USMD_OPTED_OUT)), "gpp_sid": (24,)}, CONTEXTUAL, r.GPP_US_OPT_OUT,
                 id="usmd opt-out"),
    pytest.param({"gpp": with_header((25, v.USIN_OPTED_OUT))}, CONTEXTUAL, r.GPP_US_CHILD, id="usin child"),
    pytest.param({"gpp": with_header((26, v.USKY_OPTED_OUT))}, CONTEXTUAL, r.GPP_US_CHILD, id="usky child"),
    pytest.param({"gpp": with_header((27, v.USRI_HEADER_OPTED_OUT))}, CONTEXTUAL, r.GPP_US_CHILD,
                 id="usri child (with section header)"),
    pytest.param({"gpp": with_header((25, v.USIN_HEADER_DEFAULTS))}, ALLOW, r.ALLOWED,
                 id="usin header defaults"),
    # Header and body disagree: the safer reading for every section id
    pytest.param({"gpp": "DBABTA~", "gpp_sid": (6,)}, CONTEXTUAL, r.USP_INVALID,
                 id="header says 6, body empty"),
    pytest.param({"gpp": "DBABTA~"}, CONTEXTUAL, r.USP_INVALID, id="header says 6, body empty, no sid"),
    pytest.param({"gpp": "DBABMA~", "gpp_sid": (2,)}, CONTEXTUAL, r.GDPR_MISSING_CONSENT,
                 id="header says 2, body empty"),
    pytest.param({"gpp": "DBABMA~", "gpp_sid": (2,), "gdpr": 1, "consent": v.TCF_ALL_PURPOSES}, CONTEXTUAL,
                 r.GPP_INVALID, id="header says 2, body empty, consent elsewhere"),
    pytest.param({"gpp": v.GPP_USP_NO_OPT_OUT, "gpp_sid": (2,), "gdpr": 1, "consent": v.TCF_ALL_PURPOSES},
                 CONTEXTUAL, r.GPP_INVALID, id="sid 2 absent from the string"),
    pytest.param({"gpp": v.GPP_MISSING_SECTION, "gpp_sid": (2,), "gdpr": 1, "consent": v.TCF_ALL_PURPOSES},
                 CONTEXTUAL, r.GPP_INVALID, id="fewer bodies than the header lists (iabgpp-es)"),
    pytest.param({"gpp": v.GPP_BLANK_SECTION, "gpp_sid": (6,)}, CONTEXTUAL, r.USP_INVALID,
                 id="blank section (iabgpp-es)"),
    pytest.param({"gpp": v.GPP_USP_NO_OPT_OUT + "~1YNN"}, CONTEXTUAL, r.GPP_INVALID,
                 id="more bodies than ids"),
    # Section 1, deprecated
    pytest.param({"gpp": with_header((1, TCF_V1)), "gpp_sid": (1,)}, CONTEXTUAL, r.GDPR_MISSING_CONSENT,
                 id="tcfeuv1: gdpr applies, v1 string is no consent"),
    pytest.param({"gpp": with_header((1, TCF_V1)), "consent": v.TCF_ALL_PURPOSES}, CONTEXTUAL,
                 r.GPP_DEPRECATED_SECTION, id="tcfeuv1 with v2 consent elsewhere"),
    pytest.param({"gpp": with_header((28, "BAAA"))}, CONTEXTUAL, r.GPP_UNKNOWN_SECTION,
                 id="unassigned id 28"),
    # LMT / GPC
    pytest.param({"lmt": 1, "has_ifa": True}, NO_IFA, r.LMT, id="lmt with ifa"),
    pytest.param({"lmt": 1, "has_ifa": False}, NO_IFA, r.ALLOWED, id="lmt without ifa: dropped, not counted"),
    pytest.param({"lmt": 0, "has_ifa": True}, ALLOW, r.ALLOWED, id="lmt=0"),
    pytest.param({"gpc": True}, CONTEXTUAL, r.GPC, id="gpc header"),
]


@pytest.mark.parametrize(("signals", "outcome", "reason"), SINGLE_SIGNALS)
def test_single_signal(signals: dict[str, Any], outcome: tuple[frozenset[str], bool, bool],
                       reason: str) -> None:
    check(decide(**signals), outcome, reason)


COMBINATIONS = [
    pytest.param({"coppa": 1, "gdpr": 1, "consent": v.TCF_ALL_PURPOSES}, CHILD, r.COPPA, (r.COPPA,),
                 id="coppa beats full consent"),
    pytest.param({"coppa": 1, "gdpr": 1}, CHILD, r.COPPA, (r.COPPA, r.GDPR_MISSING_CONSENT),
                 id="coppa + gdpr without string"),
    pytest.param({"gdpr": 1, "consent": v.TCF_ALL_PURPOSES, "us_privacy": "1YYN"}, CONTEXTUAL, r.USP_OPT_OUT,
                 (r.USP_OPT_OUT,), id="gdpr consent but usp opt-out"),
    pytest.param({"gdpr": 1, "gpp": v.GPP_TCF_AND_USP, "gpp_sid": (2, 6)}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 (r.GDPR_NO_CONSENT,), id="gpp tcf+usp sections"),
    pytest.param({"gdpr": 1, "consent": v.TCF_ALL_PURPOSES, "gpp": v.GPP_TCF_AND_USP, "gpp_sid": (2, 6)},
                 ALLOW, r.ALLOWED, (), id="user.consent preferred over gpp section 2"),
    pytest.param({"gpp": v.GPP_ALL_DEFAULTS, "gpp_sid": tuple(range(6, 24))}, ALLOW, r.ALLOWED, (),
                 id="gpp with 18 applicable sections at defaults"),
    pytest.param({"gpp": v.GPP_ALL_DEFAULTS}, CONTEXTUAL, r.GDPR_NO_CONSENT,
                 (r.GDPR_NO_CONSENT, r.TCFCA_NO_VENDOR_ID),
                 id="no sid: every section in the string applies"),
    pytest.param({"gpp": v.GPP_ALL_SECTIONS_ES, "gpp_sid": (5, 6, *range(7, 28))}, CONTEXTUAL,
                 r.TCFCA_NO_VENDOR_ID, (r.TCFCA_NO_VENDOR_ID,), id="every section 5-27 at defaults"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_OPTED_OUT_NO_GPC, "gpp_sid": (7,), "us_privacy": "1YNN"},
                 CONTEXTUAL,
                 r.GPP_US_CHILD, (r.GPP_US_CHILD, r.GPP_US_OPT_OUT), id="usp allows, usnat opts out"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_OPTED_OUT, "gpp_sid": (7,)}, CONTEXTUAL, r.GPP_US_CHILD,
                 (r.GPP_US_CHILD, r.GPP_US_OPT_OUT, r.GPC), id="usnat gpc subsection counts as gpc"),
    pytest.param({"lmt": 1, "has_ifa": True, "gdpr": 1, "consent": v.TCF_ALL_PURPOSES}, NO_IFA, r.LMT,
                 (r.LMT,), id="lmt with ifa and consent"),
    pytest.param({"lmt": 1, "has_ifa": True, "us_privacy": "1YYN"}, CONTEXTUAL, r.USP_OPT_OUT,
                 (r.USP_OPT_OUT, r.LMT), id="lmt + usp opt-out"),
    pytest.param({"coppa": 1, "lmt": 1, "has_ifa": True, "gpc": True, "us_privacy": "1YYN"}, CHILD, r.COPPA,
                 (r.COPPA, r.USP_OPT_OUT, r.GPC, r.LMT), id="everything at once"),
]


@pytest.mark.parametrize(("signals", "outcome", "reason", "reasons"), COMBINATIONS)
def test_combination(signals: dict[str, Any], outcome: tuple[frozenset[str], bool, bool], reason: str,
                     reasons: tuple[str, ...]) -> None:
    decision = decide(**signals)
    check(decision, outcome, reason)
    assert decision.reasons == reasons


SETTINGS_CASES = [
    pytest.param({"gdpr_default": True}, {}, CONTEXTUAL, r.GDPR_MISSING_CONSENT, id="gdpr_default applies"),
    pytest.param({"gdpr_default": True}, {"gdpr": 0}, ALLOW, r.ALLOWED, id="explicit gdpr=0 beats default"),
    pytest.param({"gvl_vendor_id": 0}, {"gdpr": 1, "consent": v.TCF_ALL_PURPOSES}, CONTEXTUAL,
                 r.GDPR_NO_VENDOR_ID, id="no GVL id: consent impossible"),
    pytest.param({"gvl_vendor_id": 755, "required_purposes": (1,)},
                 {"gdpr": 1, "consent": v.TCF_PURPOSE_1_ONLY}, ALLOW, r.ALLOWED, id="purposes configurable"),
    pytest.param({"gvl_vendor_id": 10, "required_purposes": (1,)},
                 {"gdpr": 1, "consent": v.TCF_PURPOSE_1_ONLY},
                 CONTEXTUAL, r.GDPR_NO_CONSENT, id="publisher restriction blocks"),
    pytest.param({"usp_malformed_opt_out": False}, {"us_privacy": "bogus"}, ALLOW, r.ALLOWED,
                 id="malformed usp ignored (still noted)"),
    pytest.param({"gpp_malformed_opt_out": False}, {"gpp": "garbage"}, ALLOW, r.ALLOWED,
                 id="malformed gpp ignored"),
    pytest.param({"gpp_unknown_section_opt_out": False}, {"gpp": with_header((28, "BAAA"))}, ALLOW,
                 r.ALLOWED, id="unknown section ignored"),
    pytest.param({"gpp_unknown_section_opt_out": False}, {"gpp": with_header((1, TCF_V1)),
                                                          "consent": v.TCF_ALL_PURPOSES}, ALLOW,
                 r.ALLOWED, id="deprecated section ignored (gdpr still applies)"),
    pytest.param({"gpp_malformed_opt_out": False}, {"gpp": "DBABLA~" + v.USNAT_V2_SHORT_66}, ALLOW, r.ALLOWED,
                 id="malformed usnat ignored"),
    # Canada TCF: vendors 12/48 express, 18/30 implied; purposes 3 and 4 express, none implied
    pytest.param({"tcfca_vendor_id": 12}, {"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": (5,)}, ALLOW,
                 r.ALLOWED, id="canada express consent"),
    pytest.param({"tcfca_vendor_id": 12}, {"gpp": v.GPP_TCF_CA_USP, "gpp_sid": (5,)}, ALLOW, r.ALLOWED,
                 id="canada express consent, int-range encoding"),
    pytest.param({"tcfca_vendor_id": 18}, {"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": (5,)}, CONTEXTUAL,
                 r.TCFCA_NO_CONSENT, id="canada vendor implied, purposes 3/4 only express"),
    pytest.param({"tcfca_vendor_id": 18, "tcfca_required_purposes": (7, 8)},
                 {"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": (5,)}, ALLOW, r.ALLOWED,
                 id="canada implied consent for implied purposes"),
    pytest.param({"tcfca_vendor_id": 18, "tcfca_required_purposes": (7, 8), "tcfca_implied_consent": False},
                 {"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": (5,)}, CONTEXTUAL, r.TCFCA_NO_CONSENT,
                 id="canada express only"),
    pytest.param({"tcfca_vendor_id": 13}, {"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": (5,)}, CONTEXTUAL,
                 r.TCFCA_NO_CONSENT, id="canada vendor not listed"),
    pytest.param({"tcfca_vendor_id": 12}, {"gpp": v.GPP_BLANK_SECTION, "gpp_sid": (5,)}, CONTEXTUAL,
                 r.GPP_INVALID, id="canada body undecodable, header/body mismatch"),
    pytest.param({"tcfca_vendor_id": 12}, {"gpp": with_header((5, "z"))}, CONTEXTUAL, r.GPP_INVALID,
                 id="canada body undecodable (iabgpp-java TcfCaV1Test garbage)"),
    pytest.param({"tcfca_vendor_id": 12}, {"gpp": with_header((5, v.TCFCA_VENDORS_FIBONACCI[:40]))},
                 CONTEXTUAL, r.GPP_INVALID, id="canada body truncated"),
    pytest.param({"tcfca_vendor_id": 12, "gpp_malformed_opt_out": False}, {"gpp": with_header((5, "z"))},
                 ALLOW, r.ALLOWED, id="canada body undecodable, malformed ignored"),
    pytest.param({"gpc_opt_out": False}, {"gpc": True}, ALLOW, r.ALLOWED, id="gpc not honoured"),
]


@pytest.mark.parametrize(("overrides", "signals", "outcome", "reason"), SETTINGS_CASES)
def test_settings_change_behaviour(overrides: dict[str, Any], signals: dict[str, Any],
                                   outcome: tuple[frozenset[str], bool, bool], reason: str) -> None:
    settings = PrivacySettings(**{"gvl_vendor_id": OUR_VENDOR, **overrides})
    check(decide(settings, **signals), outcome, reason)


def test_ignored_malformed_usp_is_still_counted() -> None:
    decision = decide(PrivacySettings(gvl_vendor_id=OUR_VENDOR, usp_malformed_opt_out=False), us_privacy="x")
    assert decision.reason == r.ALLOWED and decision.reasons == (r.USP_INVALID,)


@pytest.mark.parametrize(
    "signals",
    [
        pytest.param({"consent": 123, "gdpr": 1}, id="consent wrong type"),
        pytest.param({"gpp": ["D"], "gpp_sid": (7,)}, id="gpp wrong type"),
        pytest.param({"gpp_sid": ["7", None, 7.0]}, id="sid items wrong type"),
        pytest.param({"gpp_sid": "7"}, id="sid wrong type"),
        pytest.param({"us_privacy": 1}, id="usp wrong type"),
        pytest.param({"gpc": "1", "has_ifa": "yes", "lmt": "1"}, id="flags wrong type"),
    ],
)
def test_wrong_types_never_raise_or_widen(signals: dict[str, Any]) -> None:
    decision = decide(**signals)
    assert decision.reason in REASONS


def test_a_bug_fails_closed() -> None:
    gate = PrivacyGate(SETTINGS)

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    gate.facts = broken  # type: ignore[method-assign,assignment]
    assert gate.decide(PrivacySignals()) is SAFEST
    assert SAFEST.allowed_kinds.isdisjoint(USER_LEVEL_KINDS)
    assert not SAFEST.mirror_allowed and SAFEST.truncate_ip


def test_every_rule_code_is_a_reason() -> None:
    assert {rule.code for rule in RULES} <= set(REASONS)
    assert len(REASONS) == len(set(REASONS))


def test_default_gate_is_unregistered() -> None:
    decision = PrivacyGate().decide(PrivacySignals(gdpr=1, consent=v.TCF_ALL_PURPOSES))
    assert decision.reason == r.GDPR_NO_VENDOR_ID


def test_decode_results_are_cached_across_requests() -> None:
    gate = PrivacyGate(SETTINGS)
    signals = PrivacySignals(gdpr=1, consent=v.TCF_ALL_PURPOSES, gpp=v.GPP_TCF_AND_USP, gpp_sid=(2, 6))
    first = gate.decide(signals)
    assert gate.decide(signals) == first
    assert v.GPP_TCF_AND_USP in gate.gpp._cache and v.TCF_ALL_PURPOSES in gate.tcf._cache
