"""The SQLite identity store: every operation, secrets, and the file's safety properties."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.auth import db
from server.auth.errors import IdentityNotFound, InvalidRequest, InvalidScope
from server.auth.identities import DELETED_NOT_BEFORE_MS, IdentityStore, is_identity_id
from tests.fakes.clock import T0, FakeClock

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(data_dir: Path, clock: FakeClock) -> IdentityStore:
    return IdentityStore(data_dir, clock=clock, scrypt_n=2**10)


def test_create_get_list(store: IdentityStore) -> None:
    a, secret = store.create("Index RTD", ["rtd", "segments"])
    b, no_secret = store.create("ops", "admin", with_secret=False)
    assert secret is not None and secret.startswith("sss_") and no_secret is None
    assert is_identity_id(a.id) and a.id != b.id
    assert a.created_ms == int(T0 * 1000)
    assert store.get(a.id) == a
    assert [i.id for i in store.list()] == [a.id, b.id]
    assert a.to_json()["scopes"] == ["rtd", "segments"] and a.to_json()["has_client_secret"] is True
    assert b.to_json()["has_client_secret"] is False


def test_secret_stored_only_as_scrypt_hash(store: IdentityStore) -> None:
    identity, secret = store.create("x", ["rtd"])
    assert secret is not None
    with db.read_conn(store.path) as conn:
        (stored,) = conn.execute("SELECT secret_hash FROM identities WHERE id = ?", (identity.id,)).fetchone()
    assert stored.startswith("scrypt$1024$8$1$") and secret not in stored
    assert secret.encode() not in store.path.read_bytes()


def test_database_is_private(store: IdentityStore) -> None:
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_wal_mode(store: IdentityStore) -> None:
    with db.read_conn(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_authenticate(store: IdentityStore) -> None:
    identity, secret = store.create("x", ["rtd"])
    nosecret, _ = store.create("y", ["rtd"], with_secret=False)
    assert secret is not None
    assert store.authenticate(identity.id, secret) == identity
    assert store.authenticate(identity.id, secret + "x") is None
    assert store.authenticate(nosecret.id, secret) is None
    assert store.authenticate("0" * 32, secret) is None
    assert store.authenticate("not-an-id", secret) is None


@pytest.mark.parametrize(
    ("name", "scopes", "error"),
    [
        pytest.param("", ["rtd"], InvalidRequest, id="empty-name"),
        pytest.param("   ", ["rtd"], InvalidRequest, id="blank-name"),
        pytest.param("x" * 201, ["rtd"], InvalidRequest, id="long-name"),
        pytest.param(5, ["rtd"], InvalidRequest, id="name-not-str"),
        pytest.param("x", [], InvalidScope, id="no-scopes"),
        pytest.param("x", ["root"], InvalidScope, id="unknown-scope"),
    ],
)
def test_create_rejects(store: IdentityStore, name: object, scopes: list[str],
                        error: type[Exception]) -> None:
    with pytest.raises(error):
        store.create(name, scopes)  # type: ignore[arg-type]
    assert store.list() == []


def test_revoke_sets_not_before(store: IdentityStore, clock: FakeClock) -> None:
    identity, _ = store.create("x", ["rtd"])
    clock.advance(10)
    not_before = store.revoke_tokens(identity.id)
    assert not_before == int(clock.now * 1000) + 1
    assert store.get(identity.id).tokens_valid_from_ms == not_before


def test_delete_leaves_tombstone(store: IdentityStore) -> None:
    identity, _ = store.create("x", ["rtd"])
    store.delete(identity.id)
    with pytest.raises(IdentityNotFound):
        store.get(identity.id)
    with db.read_conn(store.path) as conn:
        row = conn.execute("SELECT not_before_ms, deleted FROM revocations WHERE identity_id = ?",
                           (identity.id,)).fetchone()
    assert row == (DELETED_NOT_BEFORE_MS, 1)


def test_old_revocations_pruned(store: IdentityStore, clock: FakeClock) -> None:
    a, _ = store.create("a", ["rtd"])
    b, _ = store.create("b", ["rtd"])
    store.delete(a.id)
    clock.advance(25 * 3600)
    store.revoke_tokens(b.id)  # any revocation write prunes rows older than 24 h + margin
    with db.read_conn(store.path) as conn:
        ids = [r[0] for r in conn.execute("SELECT identity_id FROM revocations")]
    assert ids == [b.id]


@pytest.mark.parametrize("op", ["get", "delete", "revoke_tokens"])
@pytest.mark.parametrize("identity_id",
                         [pytest.param("0" * 32, id="unknown"), pytest.param("../x", id="bad-shape")])
def test_unknown_identity(store: IdentityStore, op: str, identity_id: str) -> None:
    with pytest.raises(IdentityNotFound):
        getattr(store, op)(identity_id)


def test_two_stores_share_one_database(data_dir: Path, clock: FakeClock) -> None:
    first = IdentityStore(data_dir, clock=clock, scrypt_n=2**10)
    second = IdentityStore(data_dir, clock=clock, scrypt_n=2**10)
    identity, _ = first.create("x", ["rtd"])
    assert second.get(identity.id) == identity


WRITER = r"""
import sys
from server.auth import AuthSettings, IdentityService
service = IdentityService(sys.argv[1], AuthSettings(scrypt_n=1024, key_rotation_s=3600))
for i in range(25):
    identity, _ = service.create_identity(f"{sys.argv[2]}-{i}", ["rtd"])
    service.get_token(identity.id)          # may race other processes to create/rotate the key
    service.revoke_tokens(identity.id)
    if i % 5 == 0:
        service.delete_identity(identity.id)
print("done", flush=True)
"""


def test_several_processes_write_concurrently(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), f"p{n}"], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip().endswith("done"), err
    store = IdentityStore(data_dir, scrypt_n=2**10)
    assert len(store.list()) == 3 * 20
    with db.read_conn(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM signing_keys").fetchone()[0] == 1  # nobody rotated twice
        assert conn.execute("SELECT COUNT(*) FROM revocations").fetchone()[0] == 3 * 25
