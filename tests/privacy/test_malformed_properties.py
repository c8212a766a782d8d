"""A malformed variant of a published consent string never reads as less strict than the original.

Variants: the string cut at every position, its header and bodies made to disagree (a body
dropped, blanked or added), and characters from outside its alphabet. "Less strict" means more key
kinds allowed, mirroring allowed where it was not, or the IP no longer truncated. Settings are the
defaults (malformed → opt-out); with ``*_malformed_opt_out = false`` a malformed string is ignored
by design, which the operator chose.
"""

from __future__ import annotations

import privacy_vectors as v
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.privacy import PrivacyGate, PrivacySettings
from server.privacy.gpp import decode
from server.signals import PrivacyDecision, PrivacySignals

GATE = PrivacyGate(PrivacySettings(gvl_vendor_id=8, tcfca_vendor_id=12, cache_size=4096))

GPP_STRINGS = [
    v.GPP_USP_OPT_OUT, v.GPP_USP_NO_OPT_OUT, v.GPP_USP_NOT_APPLICABLE, v.GPP_TCF_AND_USP, v.GPP_TCF_CA_USP,
    v.GPP_TCF_WITH_VENDORS, v.GPP_ALL_DEFAULTS, v.GPP_USNAT_CHILD, v.GPP_USNAT_LEGACY_DEFAULTS,
    v.GPP_ALL_SECTIONS_ES, v.GPP_TCF_CA_FIBONACCI_USP,
    *("DBABLA~" + body for body in (v.USNAT_OPTED_OUT, v.USNAT_V2_OPTED_OUT, v.USNAT_V2_DEFAULTS,
                                    v.USNAT_V2_THIRD_CHILD, v.USNAT_V1_66_BITS, v.USNAT_V1_60_BITS,
                                    v.USNAT_V1_CHILD, v.USNAT_LEGACY_NOT_OPTED_OUT)),
]
USP_STRINGS = ["1YYN", "1YNN", "1NNN", "1---", "1Y-N", "1YNY"]
TCF_STRINGS = [v.TCF_ALL_PURPOSES, v.TCF_PURPOSE_1_ONLY, v.TCF_EMPTY, v.TCF_IAB_TCF_README]
OUTSIDE_ALPHABET = ["*", "=", " ", "+", "/", "é", "\x00", "y", "n"]


def gpp_signals(raw: str, *, with_sid: bool) -> PrivacySignals:
    """``raw`` as ``regs.gpp``, with ``gpp_sid`` empty or listing the original string's sections."""
    original = decode(raw)
    sids = original.section_ids if (with_sid and original) else ()
    return PrivacySignals(gpp=raw, gpp_sid=sids)


def not_less_strict(variant: PrivacyDecision, original: PrivacyDecision) -> bool:
    return (variant.allowed_kinds <= original.allowed_kinds
            and (original.mirror_allowed or not variant.mirror_allowed)
            and (variant.truncate_ip or not original.truncate_ip))


def cuts(raw: str) -> list[str]:
    return [raw[:i] for i in range(1, len(raw))]  # cut to "" is absence, not a malformed string


def disagreements(raw: str) -> list[str]:
    header, *bodies = raw.split("~")
    variants = [raw + "~", raw + "~" + (bodies[-1] if bodies else "1YNN")]
    for i in range(len(bodies)):
        variants.append("~".join([header, *bodies[:i], *bodies[i + 1 :]]))  # a body dropped
        variants.append("~".join([header, *bodies[:i], "", *bodies[i + 1 :]]))  # a body blanked
        if i + 1 < len(bodies):
            swapped = [*bodies[:i], bodies[i + 1], bodies[i], *bodies[i + 2 :]]
            variants.append("~".join([header, *swapped]))  # bodies in the wrong order
    return variants


@pytest.mark.parametrize("with_sid", [False, True], ids=["no gpp_sid", "gpp_sid = header ids"])
@pytest.mark.parametrize("raw", GPP_STRINGS, ids=lambda raw: raw[:24])
def test_gpp_cut_at_every_position_or_disagreeing(raw: str, with_sid: bool) -> None:
    sids = gpp_signals(raw, with_sid=with_sid).gpp_sid
    original = GATE.decide(PrivacySignals(gpp=raw, gpp_sid=sids))
    for variant in cuts(raw) + disagreements(raw):
        decision = GATE.decide(PrivacySignals(gpp=variant, gpp_sid=sids))
        assert not_less_strict(decision, original), (variant, decision, original)


@pytest.mark.parametrize("raw", USP_STRINGS + TCF_STRINGS)
def test_usp_and_tcf_cut_at_every_position(raw: str) -> None:
    field = "us_privacy" if raw in USP_STRINGS else "consent"
    extra = {} if field == "us_privacy" else {"gdpr": 1}
    original = GATE.decide(PrivacySignals(**{field: raw}, **extra))
    for variant in cuts(raw):
        assert not_less_strict(GATE.decide(PrivacySignals(**{field: variant}, **extra)), original), variant


@settings(max_examples=300, deadline=None)
@given(raw=st.sampled_from(GPP_STRINGS + USP_STRINGS + TCF_STRINGS), data=st.data(), with_sid=st.booleans())
def test_wrong_alphabet_never_reads_less_strict(raw: str, data: st.DataObject, with_sid: bool) -> None:
    positions = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3, unique=True))
    chars = data.draw(st.lists(st.sampled_from(OUTSIDE_ALPHABET), min_size=len(positions),
                               max_size=len(positions)))
    variant = list(raw)
    for position, char in zip(positions, chars, strict=True):
        variant[position] = char
    mutated = "".join(variant)
    if raw in USP_STRINGS:
        base, bad = PrivacySignals(us_privacy=raw), PrivacySignals(us_privacy=mutated)
    elif raw in TCF_STRINGS:
        base, bad = PrivacySignals(gdpr=1, consent=raw), PrivacySignals(gdpr=1, consent=mutated)
    else:
        sids = gpp_signals(raw, with_sid=with_sid).gpp_sid
        base, bad = PrivacySignals(gpp=raw, gpp_sid=sids), PrivacySignals(gpp=mutated, gpp_sid=sids)
    assert not_less_strict(GATE.decide(bad), GATE.decide(base)), mutated


@settings(max_examples=200, deadline=None)
@given(raw=st.sampled_from(GPP_STRINGS), data=st.data(), with_sid=st.booleans())
def test_cut_and_disagreement_combined(raw: str, data: st.DataObject, with_sid: bool) -> None:
    sids = gpp_signals(raw, with_sid=with_sid).gpp_sid
    variants = disagreements(raw)
    variant = data.draw(st.sampled_from(variants))
    variant = variant[: data.draw(st.integers(1, len(variant)))]
    original = GATE.decide(PrivacySignals(gpp=raw, gpp_sid=sids))
    assert not_less_strict(GATE.decide(PrivacySignals(gpp=variant, gpp_sid=sids)), original), variant
