"""A damaged ``auth.sqlite3`` against the real ``segment-server serve`` process (issue 25 item 4).

* At start: an emptied (0-byte), garbage, or foreign SQLite file is refused — exit code 1, the
  path in the message — instead of workers dying in a loop or the server starting over with no
  clients. A missing file is simply a new deployment and is created.
* While serving: the file is overwritten in place. ``/oauth/token`` and ``/admin/identities``
  answer 503 with a JSON error, tokens issued before keep working on ``/rtd``, readiness names
  the file, and the server logs it once.

Config reaches the server only through ``SEGMENT_SERVER_CONFIG`` (a temp TOML), on a free port.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from server.auth import IdentityService
from server.auth.settings import AuthSettings
from tests.helpers import build_data_dir
from tests.serverproc import free_port, run_cli

from . import damage
from .serverproc import Server, config_for, serving

pytestmark = pytest.mark.slow

IP4 = "203.0.113.77"
SETTINGS = AuthSettings(scrypt_n=2**10)


def _data_dir(tmp: Path) -> Path:
    return build_data_dir(tmp, [{"kind": "ip", "key": IP4, "segments": ["sports"]}])


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        pytest.param(damage.empty, "is empty (0 bytes)", id="truncated-to-0-bytes"),
        pytest.param(damage.garbage, "is not an SQLite database", id="random-bytes"),
        pytest.param(damage.foreign_sqlite, "is not an auth database", id="other-sqlite-file"),
        pytest.param(damage.corrupt_pages, "", id="torn-first-page"),
    ],
)
def test_damaged_auth_db_refuses_to_start(tmp_path: Path, damage: Callable[[Path], None],
                                          problem: str) -> None:
    data = _data_dir(tmp_path)
    service = IdentityService(data, SETTINGS)
    service.create_identity("index", ["rtd"])
    path = service.store.path
    damage(path)
    before = path.read_bytes()
    proc = run_cli(config_for(tmp_path, data, free_port(), workers=2), "serve", timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"refusing to start: auth database {path} {problem}" in proc.stderr
    assert path.read_bytes() == before  # nothing "repaired" or recreated over the evidence


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Server, IdentityService]]:
    data = _data_dir(tmp_path)
    service = IdentityService(data, SETTINGS)
    with serving(tmp_path, data) as server:
        yield server, service


def test_damage_while_serving_keeps_issued_tokens_and_answers_503(
    running: tuple[Server, IdentityService],
) -> None:
    server, service = running
    base = server.base
    index, secret = service.create_identity("index", ["rtd"])
    assert secret is not None
    ops, _ = service.create_identity("ops", ["admin"], with_secret=False)
    admin = {"Authorization": "Bearer " + service.get_token(ops.id).token}
    form = {"grant_type": "client_credentials", "client_id": index.id, "client_secret": secret}
    issued = httpx.post(base + "/oauth/token", data=form, timeout=10)
    assert issued.status_code == 200, issued.text
    bearer = {"Authorization": "Bearer " + issued.json()["access_token"]}
    rtd = {"device": {"ip": IP4}}
    assert httpx.post(base + "/rtd", json=rtd, headers=bearer, timeout=5).status_code == 200
    assert httpx.get(base + "/admin/identities", headers=admin, timeout=5).status_code == 200

    path = service.store.path
    with path.open("r+b") as f:  # overwritten in place, as a failing disk or a stray `dd` would
        f.write(os.urandom(path.stat().st_size))

    r = httpx.post(base + "/oauth/token", data=form, timeout=10)
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable", r.text
    r = httpx.get(base + "/admin/identities", headers=admin, timeout=5)
    assert r.status_code == 503 and r.json()["error"] == "auth_database_unavailable", r.text
    assert str(path) in r.json()["detail"]
    for _ in range(3):  # issued tokens keep verifying from the worker's in-memory keys
        assert httpx.post(base + "/rtd", json=rtd, headers=bearer, timeout=5).status_code == 200
        time.sleep(0.6)  # past the revocation view's refresh interval
    deadline = time.monotonic() + 30  # readiness probes the file every few seconds
    while (ready := httpx.get(base + "/health/ready", timeout=5)).status_code == 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.5)
    assert ready.status_code == 503 and str(path) in ready.json()["checks"]["auth_db"]["detail"]
    for _ in range(3):
        httpx.post(base + "/oauth/token", data=form, timeout=10)
    server.stop()
    logged = server.log.read_text()
    lines = [line for line in logged.splitlines() if "auth.db_unavailable" in line]
    assert len(lines) == 1, logged[-3000:]  # once, not per request
    # The file is named (the log redactor masks digit-bearing path runs such as pytest's tmp dirs).
    assert path.name in lines[0] and '"level":"error"' in lines[0]
