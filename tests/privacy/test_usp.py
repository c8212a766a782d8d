import pytest

from segments.keys import USER_LEVEL_KINDS
from server.privacy import PrivacyGate, PrivacySettings
from server.privacy import reasons as r
from server.privacy.usp import INDEX_OPT_OUT_SALE, UspStatus, parse
from server.signals import PrivacySignals


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, UspStatus.ABSENT, id="absent"),
        pytest.param("", UspStatus.ABSENT, id="empty string (Index sends this)"),
        pytest.param("   ", UspStatus.ABSENT, id="blank"),
        pytest.param("1---", UspStatus.NOT_APPLICABLE, id="not in scope (Index sample)"),
        pytest.param("1YYN", UspStatus.OPT_OUT, id="opted out of sale"),
        pytest.param("1NYN", UspStatus.OPT_OUT, id="opt-out without notice still opts out"),
        pytest.param("1YYY", UspStatus.OPT_OUT, id="opt-out LSPA"),
        pytest.param("1yyn", UspStatus.INVALID, id="lower case is malformed"),
        pytest.param("1y--", UspStatus.INVALID, id="lower-case notice (prebid-server: invalid)"),
        pytest.param("1--y", UspStatus.INVALID, id="lower-case lspa (prebid-server: invalid)"),
        pytest.param("1-y-", UspStatus.INVALID, id="lower-case opt-out (prebid-server: invalid)"),
        pytest.param("1-n-", UspStatus.INVALID, id="lower-case no"),
        pytest.param(" 1YYN ", UspStatus.INVALID, id="surrounding space is malformed"),
        pytest.param("1YN ", UspStatus.INVALID, id="space as a flag"),
        pytest.param("1YN\uff2e", UspStatus.INVALID, id="full-width N"),
        pytest.param("1YN\x00", UspStatus.INVALID, id="NUL as a flag"),
        pytest.param("1YNN", UspStatus.NO_OPT_OUT, id="notice, no opt-out"),
        pytest.param("1NNN", UspStatus.NO_OPT_OUT, id="no notice, no opt-out"),
        pytest.param("1Y-N", UspStatus.NOT_APPLICABLE, id="dash in opt-out position"),
        pytest.param("2YYN", UspStatus.INVALID, id="unknown version"),
        pytest.param("1YY", UspStatus.INVALID, id="too short"),
        pytest.param("1YYNN", UspStatus.INVALID, id="too long"),
        pytest.param("1YXN", UspStatus.INVALID, id="bad flag"),
        pytest.param("1Y?N", UspStatus.INVALID, id="bad opt-out char"),
        pytest.param("CPSG_8APSG_8A", UspStatus.INVALID, id="a TCF string in the wrong field"),
        pytest.param(1, UspStatus.INVALID, id="wrong type int"),
        pytest.param(["1YYN"], UspStatus.INVALID, id="wrong type list"),
        pytest.param(b"1YYN", UspStatus.INVALID, id="bytes"),
    ],
)
def test_parse(raw: object, expected: UspStatus) -> None:
    assert parse(raw) is expected


def test_offset_names_the_spec_position() -> None:
    assert "1NYN"[INDEX_OPT_OUT_SALE] == "Y"


@pytest.mark.parametrize("raw", ["1y--", "1--y", "1-y-", "1yyn", " 1YNN "])
@pytest.mark.parametrize("malformed_opt_out", [True, False])
def test_malformed_usp_follows_the_configured_rule(raw: str, malformed_opt_out: bool) -> None:
    gate = PrivacyGate(PrivacySettings(usp_malformed_opt_out=malformed_opt_out))
    decision = gate.decide(PrivacySignals(us_privacy=raw))
    assert r.USP_INVALID in decision.reasons
    assert decision.allowed_kinds.isdisjoint(USER_LEVEL_KINDS) is malformed_opt_out
    gpp = gate.decide(PrivacySignals(gpp="DBABTA~" + raw, gpp_sid=(6,)))  # section 6 reads the same way
    assert r.USP_INVALID in gpp.reasons
