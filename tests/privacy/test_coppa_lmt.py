import pytest

from server.privacy import coppa, lmt

CASES = [
    pytest.param(None, False, id="absent"),
    pytest.param(0, False, id="zero"),
    pytest.param(False, False, id="false"),
    pytest.param(1, True, id="one"),
    pytest.param(True, True, id="true"),
    pytest.param(2, True, id="out of range: safe reading"),
    pytest.param(-1, True, id="negative: safe reading"),
    pytest.param("1", True, id="string: safe reading"),
    pytest.param("0", True, id="string zero is still not the int 0"),
    pytest.param(0.0, True, id="float"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_coppa_applies(raw: object, expected: bool) -> None:
    assert coppa.applies(raw) is expected


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_lmt_applies(raw: object, expected: bool) -> None:
    assert lmt.applies(raw) is expected
