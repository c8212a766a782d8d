"""Access control on the real app: bearer tokens on /rtd, /segments, /admin; OAuth2; OpenAPI coverage."""

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import create_app
from server.auth import ensure_demo_identity
from server.config import load_settings
from tests.helpers import build_data_dir

WEB = {"site": {"page": "https://example.com/sports/football"}}


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    data_dir = build_data_dir(tmp_path, [{"kind": "url", "key": "example.com/sports",
                                          "segments": ["sports"]}])
    store = {"data_dir": str(data_dir), "check_interval_seconds": 0.0}
    settings = load_settings(env={}, overrides={"store": store, "auth": {"scrypt_n": 1024}})
    with TestClient(create_app(settings)) as client:
        yield client, data_dir


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rtd_requires_a_token(app_client: tuple[TestClient, Path]) -> None:
    client, data_dir = app_client
    missing = client.post("/rtd", json=WEB)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer realm=")
    bad = client.post("/rtd", json=WEB, headers=bearer("ss1_forged"))
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    token = ensure_demo_identity(data_dir, load_settings(env={}).auth)
    assert client.post("/rtd", json=WEB, headers=bearer(token)).json()["segment_ids"] == ["sports"]


def test_oauth_client_credentials_then_scoped_calls(app_client: tuple[TestClient, Path]) -> None:
    client, data_dir = app_client
    admin = bearer(ensure_demo_identity(data_dir, load_settings(env={}).auth))
    created = client.post("/admin/identities", headers=admin,
                          json={"display_name": "index", "scopes": ["segments"], "client_secret": True})
    assert created.status_code == 201, created.text
    identity, secret = created.json()["identity"], created.json()["client_secret"]
    basic = base64.b64encode(f"{identity['id']}:{secret}".encode()).decode()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": f"Basic {basic}"})
    assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    assert token.headers["cache-control"] == "no-store"
    access = bearer(token.json()["access_token"])
    cached = client.get("/segments?url=example.com%2Fsports", headers=access)
    assert cached.status_code == 200 and cached.json()["segment_ids"] == ["sports"]
    wrong_scope = client.post("/rtd", json=WEB, headers=access)
    assert wrong_scope.status_code == 403 and "insufficient_scope" in wrong_scope.headers["www-authenticate"]
    assert client.get("/admin/status", headers=access).status_code == 403
    revoked = client.delete(f"/admin/identities/{identity['id']}/tokens", headers=admin)
    assert revoked.status_code in (200, 204)
    # The view refreshes every 0.5 s; the 1 s promise is checked end to end in tests/e2e/test_revocation.py.
    deadline = time.monotonic() + 10  # a cap for a stuck view, not a measurement
    while client.get("/segments?url=example.com%2Fsports", headers=access).status_code != 401:
        assert time.monotonic() < deadline, "revocation never became visible"
        time.sleep(0.05)


def test_admin_status_reports_store_and_subsystems(app_client: tuple[TestClient, Path]) -> None:
    client, data_dir = app_client
    admin = bearer(ensure_demo_identity(data_dir, load_settings(env={}).auth))
    body = client.get("/admin/status", headers=admin).json()
    assert body["store"]["version"] == 1
    assert body["subsystems"] == {"uid2": {}, "mirror": None}


def test_openapi_covers_every_route(app_client: tuple[TestClient, Path]) -> None:
    client, _ = app_client
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}  # not "parameters"
    documented = {(path, m.upper()) for path, item in document["paths"].items() for m in item if m in methods}
    routes = {(re.sub(r"{(\w+):\w+}", r"{\1}", r.path), m)  # Starlette's {id:path} is OpenAPI's {id}
              for r in client.app.routes if isinstance(r, Route)  # type: ignore[attr-defined]
              for m in (r.methods or ()) if m != "HEAD"}
    assert routes - documented == set(), "routes missing from /openapi.json"
    assert documented - routes == set(), "documented paths with no route"
