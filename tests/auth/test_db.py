"""The auth database file: created whole, checked on open, never silently recreated (issue 25 item 4)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from server.auth import AuthDatabaseError, IdentityService, db, startup_problem
from server.auth.dbhealth import AuthDbHealth
from server.auth.errors import AuthDatabaseUnavailable, IdentityNotFound
from server.auth.settings import AuthSettings

from . import damage
from .conftest import FakeClock, TestClient, bearer

SETTINGS = AuthSettings(scrypt_n=2**10)


def test_created_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / db.DB_FILENAME
    db.ensure_database(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(db.SQLITE_HEADER)
    db.check_database(path)
    assert [p.name for p in path.parent.iterdir()] == [db.DB_FILENAME]  # no temp file left behind
    db.ensure_database(path)  # an existing sound file is only checked


def _old_columns(path: Path) -> None:
    with db.write_tx(path) as conn:
        conn.execute("DROP TABLE revocations")
        conn.execute("CREATE TABLE revocations (identity_id TEXT PRIMARY KEY)")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        pytest.param(damage.empty, "is empty (0 bytes)", id="zero-bytes"),
        pytest.param(damage.garbage, "is not an SQLite database (bad header)", id="garbage"),
        pytest.param(damage.foreign_sqlite, "is not an auth database (missing table identities",
                     id="other-sqlite-file"),
        pytest.param(_old_columns, "missing column revocations.not_before_ms", id="wrong-columns"),
        pytest.param(damage.corrupt_pages, "", id="corrupt-pages"),
    ],
)
def test_damage_is_named_and_refused(tmp_path: Path, damage: Callable[[Path], None], problem: str) -> None:
    data = tmp_path / "data"
    IdentityService(data, SETTINGS).create_identity("index", ["rtd"])
    path = db.db_path(data)
    damage(path)
    before = path.read_bytes()
    with pytest.raises(AuthDatabaseError) as caught:
        IdentityService(data, SETTINGS)
    assert str(caught.value).startswith(f"auth database {path} ") and problem in str(caught.value)
    message = startup_problem(data)
    assert message is not None and message.startswith(f"refusing to start: auth database {path}")
    assert path.read_bytes() == before  # the evidence is left as it was


def test_missing_file_while_serving_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    service = IdentityService(tmp_path / "data", SETTINGS)
    service.store.path.unlink()
    with pytest.raises(sqlite3.OperationalError):
        service.list_identities()
    assert not service.store.path.exists()


def test_health_logs_once_and_recovers(tmp_path: Path) -> None:
    service = IdentityService(tmp_path / "data", SETTINGS)
    clock = FakeClock()
    health = AuthDbHealth(service.store.path, clock=clock, probe_interval_s=5)
    assert health.check() == (True, f"auth database {service.store.path} readable")
    saved = service.store.path.read_bytes()
    damage.empty(service.store.path)
    assert health.check()[0]  # not probed again within the interval
    clock.advance(5)
    with capture_logs() as logs:
        ok, detail = health.check()
        health.failed(sqlite3.DatabaseError("file is not a database"))  # later failures: no new line
        clock.advance(5)
        health.check()
    assert not ok and f"auth database {service.store.path} is empty (0 bytes)" in detail
    assert [e["event"] for e in logs] == ["auth.db_unavailable"] and logs[0]["log_level"] == "error"
    service.store.path.write_bytes(saved)
    clock.advance(5)
    with capture_logs() as logs:
        assert health.check()[0]
    assert [e["event"] for e in logs] == ["auth.db_recovered"]


@pytest.mark.parametrize(("raised", "expected", "ok_after"), [
    pytest.param(None, None, True, id="clean-run-recovers"),
    pytest.param(sqlite3.DatabaseError("file is not a database"), AuthDatabaseUnavailable, False,
                 id="sqlite"),
    pytest.param(IdentityNotFound("x"), IdentityNotFound, False, id="other-errors-pass-unrecorded"),
])
def test_reporting_records_sqlite_errors_as_unavailable(
    tmp_path: Path, raised: Exception | None, expected: type[Exception] | None, ok_after: bool
) -> None:
    health = AuthDbHealth(tmp_path / "auth.sqlite3")
    health.failed(OSError("earlier trouble"))

    @health.reporting
    async def endpoint(value: int) -> int:
        """Doc kept by functools.wraps."""
        if raised is not None:
            raise raised
        return value

    assert endpoint.__name__ == "endpoint" and endpoint.__doc__ == "Doc kept by functools.wraps."
    async def call() -> int:
        return await endpoint(7)

    if expected is None:
        assert asyncio.run(call()) == 7
    else:
        with pytest.raises(expected) as info:
            asyncio.run(call())
        if expected is AuthDatabaseUnavailable:
            assert "file is not a database" in str(info.value) and str(health.path) in str(info.value)
    assert health.ok is ok_after


def test_endpoints_answer_503_and_issued_tokens_keep_working(service: IdentityService, clock: FakeClock,
                                                             client: TestClient, admin_token: str) -> None:
    identity, secret = service.create_identity("index", ["rtd"])
    assert secret is not None
    form = {"grant_type": "client_credentials", "client_id": identity.id, "client_secret": secret}
    token = client.post("/oauth/token", data=form).json()["access_token"]
    assert client.post("/rtd", headers=bearer(token)).status_code == 200
    saved = service.store.path.read_bytes()
    damage.garbage(service.store.path)

    r = client.post("/oauth/token", data=form)
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
    assert r.headers["retry-after"] == "30" and r.headers["cache-control"] == "no-store"
    r = client.get("/admin/identities", headers=bearer(admin_token))
    assert r.status_code == 503 and r.json()["error"] == "auth_database_unavailable"
    assert str(service.store.path) in r.json()["detail"]
    for _ in range(3):
        clock.advance(1)  # past the revocation view's refresh interval: it fails, keeps its keys
        assert client.post("/rtd", headers=bearer(token)).status_code == 200
    assert not service.health.ok

    service.store.path.write_bytes(saved)
    assert client.post("/oauth/token", data=form).status_code == 200
    assert service.health.ok
