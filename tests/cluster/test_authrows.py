"""The merge rules shared by the engine's Lua script and a node's database (see authrows)."""

from __future__ import annotations

import pytest

from server.cluster.authrows import merge_key, merge_revocation, nmax

DELETED = str(2**62)


@pytest.mark.parametrize(("a", "b", "larger"), [
    pytest.param("9", "10", "10", id="shorter-is-smaller"),
    pytest.param("1796537779778", "1796537779777", "1796537779778", id="same-length"),
    pytest.param(DELETED, "1796537779778", DELETED, id="deleted-marker-beyond-doubles"),
])
def test_nmax_compares_decimal_strings(a: str, b: str, larger: str) -> None:
    assert nmax(a, b) == nmax(b, a) == larger


@pytest.mark.parametrize(("current", "incoming", "merged"), [
    pytest.param(None, "5:5:0", "5:5:0", id="new"),
    pytest.param("7:7:0", "5:5:0", "7:7:0", id="an-older-revoke-never-undoes-a-newer"),
    pytest.param("5:5:0", "7:7:0", "7:7:0", id="newer-wins"),
    pytest.param("7:7:0", f"{DELETED}:6:1", f"{DELETED}:7:1", id="delete-sticks"),
])
def test_revocations_merge_to_the_latest(current: str | None, incoming: str, merged: str) -> None:
    assert merge_revocation(current, incoming) == merged


@pytest.mark.parametrize(("current", "incoming", "merged"), [
    pytest.param(None, "aa:1:1:0", "aa:1:1:0", id="new-kid"),
    pytest.param("aa:1:1:0", "bb:2:2:0", "aa:1:1:0", id="first-writer-keeps-the-kid"),
    pytest.param("aa:1:1:0", "aa:1:1:9", "aa:1:1:9", id="retired-elsewhere"),
    pytest.param("aa:1:1:8", "aa:1:1:9", "aa:1:1:8", id="earliest-retirement"),
])
def test_signing_keys_merge(current: str | None, incoming: str, merged: str) -> None:
    assert merge_key(current, incoming) == merged
