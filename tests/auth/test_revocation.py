"""The per-worker view: refresh cadence, and revocation seen by a *second process* within 1 s."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.auth import AuthSettings, IdentityService, RevocationView

from .conftest import FakeClock

REPO = Path(__file__).resolve().parents[2]


def test_refresh_only_when_due_and_changed(view: RevocationView, service: IdentityService,
                                           clock: FakeClock) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    view.maybe_refresh()
    loaded = view.loaded_at
    service.revoke_tokens(identity.id)
    clock.advance(0.4)
    view.maybe_refresh()
    assert bytes.fromhex(identity.id) not in view.not_before  # not due yet
    clock.advance(0.1)
    view.maybe_refresh()
    valid_from = service.get_identity(identity.id).tokens_valid_from_ms
    assert view.not_before[bytes.fromhex(identity.id)] == valid_from
    assert view.loaded_at != loaded
    reloaded = view.loaded_at
    clock.advance(1)
    view.maybe_refresh()
    assert view.loaded_at == reloaded  # nothing committed since: data_version unchanged, no reload


def test_view_picks_up_rotated_keys(view: RevocationView, service: IdentityService, clock: FakeClock) -> None:
    service.keys.ensure_key()
    view.refresh()
    assert set(view.keys) == {1}
    kid = service.keys.rotate()
    clock.advance(0.5)
    view.maybe_refresh()
    assert set(view.keys) == {1, kid}


def test_database_failure_keeps_last_view(
    view: RevocationView, service: IdentityService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    service.revoke_tokens(identity.id)
    view.maybe_refresh()
    before = dict(view.not_before)

    def broken() -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(view, "_connection", broken)
    clock.advance(1)
    view.maybe_refresh()  # logs and keeps serving the last good state instead of raising
    assert view.not_before == before
    monkeypatch.undo()
    clock.advance(1)
    view.maybe_refresh()  # recovers on the next interval
    assert view.not_before == before


def test_close_and_reopen(view: RevocationView, service: IdentityService, clock: FakeClock) -> None:
    view.refresh()
    loaded = view.loaded_at
    view.close()
    identity, _ = service.create_identity("x", ["rtd"])
    service.revoke_tokens(identity.id)  # committed while the view's connection is closed
    clock.advance(0.1)
    view.refresh(force=True)
    assert view.loaded_at != loaded  # a real reload through the reopened connection
    valid_from = service.get_identity(identity.id).tokens_valid_from_ms
    assert view.not_before[bytes.fromhex(identity.id)] == valid_from


WORKER = r"""
import sys, time
from server.auth import AuthSettings, Guard, RevocationView
data_dir, token = sys.argv[1], sys.argv[2]
guard = Guard(RevocationView(data_dir), AuthSettings())
header = "Bearer " + token
assert guard.check(header, "rtd") is None, "token should start valid"
print("ready", flush=True)
deadline = time.time() + 30  # a cap for a starved process on a loaded box, not a measurement
while time.time() < deadline:
    denial = guard.check(header, "rtd")
    if denial is not None:
        print(f"denied {denial.reason} {time.time():.6f}", flush=True)
        break
    time.sleep(0.005)
else:
    print("timeout", flush=True)
"""


@pytest.mark.parametrize("operation", ["revoke_tokens", "delete_identity"])
def test_second_process_sees_revocation_within_one_second(tmp_path: Path, operation: str) -> None:
    data_dir = tmp_path / "data"
    service = IdentityService(data_dir, AuthSettings(scrypt_n=2**10))  # real clock: two processes
    identity, _ = service.create_identity("x", ["rtd"], with_secret=False)
    token = service.get_token(identity.id, lifetime_s=3600).token
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(data_dir), token],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read() if worker.stderr else ""
        time.sleep(0.3)  # let the worker settle into its refresh cycle at an arbitrary phase
        revoked_at = time.time()
        getattr(service, operation)(identity.id)
        line = worker.stdout.readline().split()  # the worker polls under a 30 s cap (no time asserted:
        assert line[:2] == ["denied", "revoked"], line  # tests/e2e checks the 1 s promise end to end)
        assert float(line[2]) >= revoked_at
    finally:
        worker.kill()
        worker.wait()
        for stream in (worker.stdout, worker.stderr):
            if stream is not None:
                stream.close()
