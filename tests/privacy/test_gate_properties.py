"""Property tests: any shape of regs/user/device input never raises, and failing a gate never leaks."""

from __future__ import annotations

import privacy_vectors as v
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.keys import IFA, USER_LEVEL_KINDS
from server.privacy import REASONS, PrivacyGate, PrivacySettings
from server.privacy import reasons as r
from server.signals import PrivacySignals

GATE = PrivacyGate(PrivacySettings(gvl_vendor_id=8, tcfca_vendor_id=12, cache_size=256))

REAL_STRINGS = [v.TCF_ALL_PURPOSES, v.TCF_PURPOSE_1_ONLY, v.TCF_EMPTY, v.GPP_TCF_AND_USP, v.GPP_USP_OPT_OUT,
                v.GPP_ALL_DEFAULTS, v.GPP_USNAT_CHILD, "DBABLA~" + v.USNAT_OPTED_OUT, "1YYN", "1---", "",
                "DBABLA~" + v.USNAT_V2_OPTED_OUT, v.GPP_ALL_SECTIONS_ES, v.GPP_TCF_CA_FIBONACCI_USP,
                v.GPP_MISSING_SECTION, v.GPP_BLANK_SECTION]
junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True),
                 st.binary(max_size=8), st.lists(st.integers(), max_size=3))
strings = st.one_of(st.sampled_from(REAL_STRINGS), st.text(max_size=80),
                    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~",
                            max_size=120),
                    st.sampled_from(REAL_STRINGS).map(lambda s: s[: len(s) // 2]))  # truncated real strings
flags = st.one_of(st.none(), st.integers(-2, 3), st.booleans(), junk)
sids = st.one_of(st.lists(st.integers(0, 40), max_size=6).map(tuple), junk, st.text(max_size=4))

signals_strategy = st.builds(
    PrivacySignals, coppa=flags, gdpr=flags, consent=st.one_of(strings, junk),
    us_privacy=st.one_of(strings, junk),
    gpp=st.one_of(strings, junk), gpp_sid=sids, lmt=flags, gpc=st.one_of(st.booleans(), junk),
    has_ifa=st.one_of(st.booleans(), junk),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signals_strategy)
def test_never_raises_and_reason_is_known(signals: PrivacySignals) -> None:
    decision = GATE.decide(signals)
    assert decision.reason in REASONS and decision.reason != r.INTERNAL_ERROR
    assert set(decision.reasons) <= set(REASONS)


@settings(max_examples=300, deadline=None)
@given(signals_strategy)
def test_a_failing_gate_never_allows_user_level_kinds(signals: PrivacySignals) -> None:
    decision = GATE.decide(signals)
    if decision.reason not in (r.ALLOWED, r.LMT):
        assert decision.allowed_kinds.isdisjoint(USER_LEVEL_KINDS)
        assert not decision.mirror_allowed
    if decision.reason == r.LMT or GATE.facts(signals).lmt:
        assert IFA not in decision.allowed_kinds
    if decision.reason == r.COPPA:
        assert decision.truncate_ip


@settings(max_examples=300, deadline=None)
@given(signals_strategy)
def test_adding_coppa_or_opt_out_only_restricts(signals: PrivacySignals) -> None:
    base = GATE.decide(signals)
    for extra in ({"coppa": 1}, {"us_privacy": "1YYN"}, {"gpc": True}):
        fields = {name: getattr(signals, name) for name in PrivacySignals.__slots__}
        stricter = GATE.decide(PrivacySignals(**{**fields, **extra}))
        assert stricter.allowed_kinds <= base.allowed_kinds
        assert stricter.allowed_kinds.isdisjoint(USER_LEVEL_KINDS) and not stricter.mirror_allowed
