"""The merge rules shared by the engine's Lua script and a node's database (see authrows)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from server.auth import AuthSettings, IdentityService, db
from server.cluster.authrows import (
    AuthRows,
    Cutoffs,
    apply_remote,
    merge_key,
    merge_revocation,
    nmax,
    read_local,
)

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


CUT = Cutoffs(revocations_ms=1_000, keys_ms=500)


@pytest.mark.parametrize(("check", "value", "expired"), [
    pytest.param(CUT.expired_revocation, "999:999:0", True, id="old-revoke"),
    pytest.param(CUT.expired_revocation, "1000:1000:0", False, id="recent-revoke"),
    pytest.param(CUT.expired_revocation, f"{DELETED}:5:1", False, id="deletion-never-expires"),
    pytest.param(CUT.old_deletion, f"{DELETED}:5:1", True, id="old-deletion"),
    pytest.param(CUT.expired_key, "aa:1:1:0", False, id="live-key"),
    pytest.param(CUT.expired_key, "aa:1:1:499", True, id="retired-long-ago"),
    pytest.param(CUT.expired_key, "aa:1:1:500", False, id="retired-recently"),
])
def test_prune_cutoffs(check: Callable[[str], bool], value: str, expired: bool) -> None:
    assert check(value) is expired


def test_a_pull_never_undoes_a_revoke_committed_after_the_local_read(tmp_path: Path) -> None:
    service = IdentityService(tmp_path, AuthSettings(scrypt_n=2**10))
    identity, _ = service.create_identity("partner", ["rtd"], with_secret=False)
    with db.read_conn(service.store.path) as conn:
        before = read_local(conn)  # what the sync read, just before ...
    not_before = service.revoke_tokens(identity.id)  # ... a revoke landed here
    remote = AuthRows(revocations={identity.id: f"{not_before - 500}:{not_before - 500}:0"})
    apply_remote(service.store.path, before, remote, Cutoffs.at(0))
    assert service.get_identity(identity.id).tokens_valid_from_ms == not_before
