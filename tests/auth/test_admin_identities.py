"""/admin/identities… over HTTP: every operation, auth on every route, 400/404 shapes."""

from __future__ import annotations

import pytest

from server.auth import IdentityService

from .conftest import FakeClock, TestClient, bearer

ROUTES = [
    ("POST", "/admin/identities"),
    ("GET", "/admin/identities"),
    ("GET", "/admin/identities/" + "0" * 32),
    ("DELETE", "/admin/identities/" + "0" * 32),
    ("POST", "/admin/identities/" + "0" * 32 + "/tokens"),
    ("DELETE", "/admin/identities/" + "0" * 32 + "/tokens"),
    ("POST", "/admin/identities-with-token"),
]


@pytest.mark.parametrize(("method", "path"), [pytest.param(m, p, id=f"{m} {p[:30]}") for m, p in ROUTES])
def test_every_route_requires_admin(client: TestClient, service: IdentityService, method: str,
                                    path: str) -> None:
    assert client.request(method, path).status_code == 401
    identity, _ = service.create_identity("rtd", ["rtd", "segments"])
    r = client.request(method, path, headers=bearer(service.get_token(identity.id).token))
    assert r.status_code == 403 and 'scope="admin"' in r.headers["www-authenticate"]


def test_identity_lifecycle(client: TestClient, admin_token: str, clock: FakeClock) -> None:
    auth = bearer(admin_token)
    r = client.post("/admin/identities", headers=auth,
                    json={"display_name": "Index", "scopes": ["rtd", "segments"], "extra": "ignored"})
    assert r.status_code == 201
    created = r.json()
    identity_id = created["identity"]["id"]
    assert created["client_secret"].startswith("sss_")
    assert created["identity"]["scopes"] == ["rtd", "segments"]

    got = client.get(f"/admin/identities/{identity_id}", headers=auth).json()
    assert got == created["identity"] and "client_secret" not in got
    listed = client.get("/admin/identities", headers=auth).json()["identities"]
    assert identity_id in [i["id"] for i in listed]

    r = client.post(f"/admin/identities/{identity_id}/tokens", headers=auth,
                    json={"scopes": ["rtd"], "expires_in": 3600})
    assert r.status_code == 201
    token = r.json()
    assert token["expires_in"] == 3600 and token["scopes"] == ["rtd"] and token["token_type"] == "Bearer"
    assert client.post("/rtd", headers=bearer(token["token"])).status_code == 200

    r = client.delete(f"/admin/identities/{identity_id}/tokens", headers=auth)
    assert r.status_code == 200 and r.json()["tokens_valid_from"] >= clock.now
    clock.advance(0.5)
    assert client.post("/rtd", headers=bearer(token["token"])).status_code == 401

    fresh = client.post(f"/admin/identities/{identity_id}/tokens", headers=auth).json()  # no body: defaults
    assert fresh["expires_in"] == 86400 and fresh["scopes"] == ["rtd", "segments"]
    assert client.post("/rtd", headers=bearer(fresh["token"])).status_code == 200

    assert client.delete(f"/admin/identities/{identity_id}", headers=auth).status_code == 204
    assert client.get(f"/admin/identities/{identity_id}", headers=auth).status_code == 404
    clock.advance(0.5)
    assert client.post("/rtd", headers=bearer(fresh["token"])).status_code == 401


def test_identity_with_token(client: TestClient, admin_token: str) -> None:
    r = client.post("/admin/identities-with-token", headers=bearer(admin_token),
                    json={"display_name": "seg", "scopes": "segments", "expires_in": 7200})
    assert r.status_code == 201
    body = r.json()
    assert body["client_secret"] is None and body["token"]["expires_in"] == 7200
    assert client.get("/segments", headers=bearer(body["token"]["token"])).status_code == 200


@pytest.mark.parametrize(
    ("path", "payload", "error", "detail"),
    [
        pytest.param("tokens", {"expires_in": 3599}, "invalid_lifetime", "between 3600 and 86400 seconds",
                     id="lifetime-too-short"),
        pytest.param("tokens", {"expires_in": 86401}, "invalid_lifetime", "between 3600 and 86400 seconds",
                     id="lifetime-too-long"),
        pytest.param("tokens", {"expires_in": "1h"}, "invalid_lifetime", "between 3600 and 86400 seconds",
                     id="lifetime-not-int"),
        pytest.param("tokens", {"scopes": ["admin"]}, "invalid_scope", "not allowed", id="scope-escalation"),
        pytest.param("tokens", {"scopes": 5}, "invalid_request", "scopes must be", id="scopes-wrong-type"),
        pytest.param("with-token", {"display_name": "x", "scopes": ["rtd"], "expires_in": 60},
                     "invalid_lifetime", "between 3600 and 86400 seconds", id="with-token-lifetime"),
        pytest.param("with-token", {"display_name": "x", "scopes": ["rtd"], "token_scopes": ["segments"]},
                     "invalid_scope", "not allowed", id="with-token-escalation"),
        pytest.param("create", {"display_name": "", "scopes": ["rtd"]}, "invalid_request", "display_name",
                     id="empty-name"),
        pytest.param("create", {"display_name": "x", "scopes": ["root"]}, "invalid_scope", "unknown",
                     id="unknown-scope"),
        pytest.param("create", [1, 2], "invalid_request", "JSON object", id="not-an-object"),
    ],
)
def test_bad_requests(client: TestClient, service: IdentityService, admin_token: str, path: str,
                      payload: object, error: str, detail: str) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    url = {"tokens": f"/admin/identities/{identity.id}/tokens", "with-token": "/admin/identities-with-token",
           "create": "/admin/identities"}[path]
    r = client.post(url, headers=bearer(admin_token), json=payload)
    assert r.status_code == 400
    assert r.json()["error"] == error and detail in r.json()["detail"]


def test_not_json(client: TestClient, admin_token: str) -> None:
    r = client.post("/admin/identities", headers=bearer(admin_token), content=b"{nope")
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("method", "suffix"),
                         [("GET", ""), ("DELETE", ""), ("POST", "/tokens"), ("DELETE", "/tokens")])
def test_unknown_identity_404(client: TestClient, admin_token: str, method: str, suffix: str) -> None:
    r = client.request(method, f"/admin/identities/{'f' * 32}{suffix}", headers=bearer(admin_token))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
