"""Signing-key rotation: first key signs at once; later keys are announced before they sign."""

from __future__ import annotations

from pathlib import Path

from server.auth import db
from server.auth.keys import ACTIVATION_DELAY_MS, KeyStore, load_verification_keys

from .conftest import FakeClock

DAY = 86400


def test_first_key_signs_immediately(data_dir: Path, clock: FakeClock) -> None:
    keys = KeyStore(data_dir, clock=clock, rotation_s=7 * DAY)
    key = keys.signing_key()
    assert key.kid == 1 and len(key.secret) == 32
    assert keys.signing_key() == key
    assert "secret" not in repr(key) and key.secret.hex() not in repr(key)


def test_rotation_announces_then_switches(data_dir: Path, clock: FakeClock) -> None:
    keys = KeyStore(data_dir, clock=clock, rotation_s=DAY)
    first = keys.signing_key()
    clock.advance(DAY)
    assert keys.signing_key() == first  # new key written but not yet active
    with db.read_conn(keys.path) as conn:
        assert set(load_verification_keys(conn)) == {1, 2}  # …yet every worker can already verify it
    clock.advance(ACTIVATION_DELAY_MS / 1000)
    assert keys.signing_key().kid == 2
    state = keys.key_state()
    assert [k["kid"] for k in state] == [1, 2] and state[0]["retired_at"] is not None
    assert "secret" not in str(state)


def test_retired_key_pruned_after_its_tokens_expire(data_dir: Path, clock: FakeClock) -> None:
    keys = KeyStore(data_dir, clock=clock, rotation_s=DAY)
    keys.signing_key()
    clock.advance(DAY)
    keys.signing_key()  # kid 2 announced; kid 1 retires at activation
    clock.advance(DAY + 3600)
    keys.signing_key()  # kid 3; kid 1 retired > 24 h + margin ago → pruned
    with db.read_conn(keys.path) as conn:
        assert set(load_verification_keys(conn)) == {2, 3}


def test_concurrent_stores_agree(data_dir: Path, clock: FakeClock) -> None:
    a = KeyStore(data_dir, clock=clock, rotation_s=DAY)
    b = KeyStore(data_dir, clock=clock, rotation_s=DAY)
    assert a.signing_key() == b.signing_key()
    clock.advance(DAY)
    a.signing_key()
    b.signing_key()  # sees a's rotation under the write lock, does not rotate again
    assert [k["kid"] for k in a.key_state()] == [1, 2]


def test_manual_rotate(data_dir: Path, clock: FakeClock) -> None:
    keys = KeyStore(data_dir, clock=clock)
    keys.ensure_key()
    assert keys.rotate() == 2
    assert keys.signing_key().kid == 1
