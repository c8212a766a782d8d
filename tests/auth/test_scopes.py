from __future__ import annotations

import pytest

from server.auth.errors import InvalidScope
from server.auth.scopes import format_scopes, from_mask, parse_scopes, to_mask


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("rtd", {"rtd"}, id="one"),
        pytest.param("rtd segments", {"rtd", "segments"}, id="space-delimited"),
        pytest.param("  admin   rtd ", {"admin", "rtd"}, id="extra-spaces"),
        pytest.param(["admin", "admin"], {"admin"}, id="list-duplicates"),
        pytest.param("", set(), id="empty"),
    ],
)
def test_parse(value: object, expected: set[str]) -> None:
    assert parse_scopes(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("RTD", id="case-sensitive"),
        pytest.param("rtd,segments", id="comma"),
        pytest.param(["rtd", "root"], id="unknown"),
        pytest.param([1], id="not-a-string"),
        pytest.param([{"rtd": 1}], id="object-in-list"),
        pytest.param([["rtd"]], id="nested-list"),
        pytest.param({"rtd": True}, id="object"),
        pytest.param(3, id="number"),
        pytest.param(None, id="null"),
    ],
)
def test_parse_rejects(value: object) -> None:
    with pytest.raises(InvalidScope):
        parse_scopes(value)  # type: ignore[arg-type]


def test_mask_round_trip() -> None:
    for scopes in ({"rtd"}, {"segments"}, {"admin"}, {"rtd", "segments", "admin"}, set()):
        assert from_mask(to_mask(scopes)) == scopes
    assert format_scopes({"segments", "admin", "rtd"}) == "admin rtd segments"
