"""Every decoded-consent cache is bounded by entries and by entry size (issue 25 item 7).

Entries: ``[privacy] cache_size`` per cache (LRU). Entry size: a string longer than
``[privacy] max_consent_length`` is refused before it is decoded or cached, and what is cached per
string is a small summary for *our* vendor ids (never a decoded vendor list), so one worker holds
at most ``cache_size × max_consent_length`` characters of keys per cache.
"""

from __future__ import annotations

import privacy_vectors as v
import pytest

from server.privacy import PrivacyGate, PrivacySettings
from server.privacy import reasons as r
from server.signals import PrivacySignals

LIMIT = 128
GATE_SETTINGS = PrivacySettings(gvl_vendor_id=8, tcfca_vendor_id=12, cache_size=3, max_consent_length=LIMIT)


def test_settings_reach_every_decoder() -> None:
    gate = PrivacyGate(GATE_SETTINGS)
    for decoder in (gate.tcf, gate.gpp, gate.tcfca):
        assert decoder.max_length == LIMIT
        assert decoder._cache.maxsize == 3


@pytest.mark.parametrize(("signals", "reason"), [
    pytest.param({"gdpr": 1, "consent": v.TCF_ALL_PURPOSES + "A" * LIMIT}, r.GDPR_INVALID_CONSENT, id="tcf"),
    pytest.param({"gpp": v.GPP_USP_NO_OPT_OUT + "~" + "A" * LIMIT}, r.GPP_INVALID, id="gpp"),
])
def test_an_oversized_string_is_refused_and_never_cached(signals: dict[str, object], reason: str) -> None:
    gate = PrivacyGate(GATE_SETTINGS)
    assert gate.decide(PrivacySignals(**signals)).reason == reason  # type: ignore[arg-type]
    assert len(gate.tcf._cache) == len(gate.gpp._cache) == len(gate.tcfca._cache) == 0


def test_a_canada_section_inside_a_gpp_string_is_bounded_by_the_gpp_limit() -> None:
    gate = PrivacyGate(PrivacySettings(tcfca_vendor_id=12,
                                       max_consent_length=len(v.GPP_TCF_CA_FIBONACCI_USP)))
    assert gate.decide(PrivacySignals(gpp=v.GPP_TCF_CA_FIBONACCI_USP, gpp_sid=(5,))).reason == r.ALLOWED
    cached = next(iter(gate.tcfca._cache))
    assert len(cached) <= gate.tcfca.max_length


def test_caches_hold_at_most_cache_size_entries() -> None:
    gate = PrivacyGate(GATE_SETTINGS)
    for i in range(20):
        gate.decide(PrivacySignals(gdpr=1, consent=f"C{i}", gpp=f"DBABTA~1YN{i}", gpp_sid=(5, 6)))
    assert len(gate.tcf._cache) <= 3 and len(gate.gpp._cache) <= 3 and len(gate.tcfca._cache) <= 3
