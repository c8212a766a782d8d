import pytest

from server.privacy.usp import INDEX_OPT_OUT_SALE, UspStatus, parse


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
        pytest.param("1yyn", UspStatus.OPT_OUT, id="lower case tolerated"),
        pytest.param(" 1YYN ", UspStatus.OPT_OUT, id="surrounding space tolerated"),
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
