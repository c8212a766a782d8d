"""/admin/taxonomy, /admin/memberships, /admin/reload, /admin/status over a real snapshot."""

from __future__ import annotations

import pytest

from .conftest import Env, TestClient

SEGMENTS = [
    {"id": "auto", "name": "Auto intenders", "ttl_seconds": 3600, "deal_ids": ["d1", "d2"],
     "xandr": {"seg_id": 123}},
    {"externalSegmentID": "sports", "externalSegmentName": "Sports fans"},  # Index's taxonomy shape
]


ROUTES = [("GET", "/admin/taxonomy"), ("POST", "/admin/taxonomy"), ("DELETE", "/admin/taxonomy/x"),
          ("GET", "/admin/memberships"), ("POST", "/admin/memberships"), ("POST", "/admin/reload"),
          ("GET", "/admin/status")]


@pytest.mark.parametrize(("method", "path"), [pytest.param(m, p, id=f"{m} {p}") for m, p in ROUTES])
def test_every_route_requires_admin(client: TestClient, env: Env, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    assert client.request(method, path, headers=env.rtd).status_code == 403


def test_taxonomy_upsert_list_delete(client: TestClient, env: Env) -> None:
    r = client.post("/admin/taxonomy", headers=env.admin, json={"segments": SEGMENTS})
    assert r.status_code == 200 and r.json() == {"upserted": 2, "ids": ["auto", "sports"]}
    listed = client.get("/admin/taxonomy", headers=env.admin).json()["segments"]
    assert listed == [
        {"id": "auto", "name": "Auto intenders", "ttl_seconds": 3600, "deal_ids": ["d1", "d2"],
         "xandr": {"seg_id": 123}},
        {"id": "sports", "name": "Sports fans"},
    ]
    changed = {"id": "auto", "name": "Auto", "xandr": {"seg_code": "auto", "member_id": 7}}
    assert client.put("/admin/taxonomy", headers=env.admin, json={"segments": [changed]}).status_code == 200
    listed = client.get("/admin/taxonomy", headers=env.admin).json()["segments"]
    assert listed[0] == {"id": "auto", "name": "Auto", "xandr": {"seg_code": "auto", "member_id": 7}}
    assert client.delete("/admin/taxonomy/auto", headers=env.admin).status_code == 204
    assert client.delete("/admin/taxonomy/auto", headers=env.admin).status_code == 404
    assert [s["id"] for s in client.get("/admin/taxonomy",
                                        headers=env.admin).json()["segments"]] == ["sports"]


@pytest.mark.parametrize(
    ("body", "error", "bad_indexes"),
    [
        pytest.param({"segments": []}, "invalid_request", None, id="empty"),
        pytest.param({}, "invalid_request", None, id="missing"),
        pytest.param({"segments": [{"id": "x"}] * 1001}, "invalid_request", None, id="too-many"),
        pytest.param({"segments": [{"id": "ok"}, {"name": "no id"}, 5]}, "invalid_batch", [1, 2],
                     id="bad-items"),
        pytest.param({"segments": [{"id": "x", "xandr": {"seg_id": 1, "seg_code": "a", "member_id": 2}}]},
                     "invalid_batch", [0], id="xandr-both"),
    ],
)
def test_taxonomy_rejects_whole_batch(
    client: TestClient, env: Env, body: object, error: str, bad_indexes: list[int] | None
) -> None:
    r = client.post("/admin/taxonomy", headers=env.admin, json=body)
    assert r.status_code == 400 and r.json()["error"] == error
    if bad_indexes is not None:
        assert [e["index"] for e in r.json()["errors"]] == bad_indexes
    assert client.get("/admin/taxonomy", headers=env.admin).json()["segments"] == []


def test_memberships(client: TestClient, env: Env) -> None:
    client.post("/admin/taxonomy", headers=env.admin, json={"segments": SEGMENTS})
    r = client.post("/admin/memberships", headers=env.admin, json={"upsert": [
        {"kind": "domain", "key": "WWW.Example.com", "segments": ["auto", "sports"]},
        {"kind": "ifa", "key": "6D92078A-8246-4BA4-AE5B-76104861E7DC", "segments": "auto",
         "expires": 4102444800},
    ]})
    assert r.status_code == 200 and r.json()["upserted"] == 2
    got = client.get("/admin/memberships", headers=env.admin,
                     params={"kind": "domain", "key": "www.example.com"})
    assert got.json()["segments"] == {"auto": None, "sports": None}
    key = got.json()["key"]
    assert env.store.lookup([key], 0).hits == {key: ["auto", "sports"]}  # the serving store sees it

    r = client.post("/admin/memberships", headers=env.admin, json={"delete": [
        {"kind": "domain", "key": "www.example.com", "segments": ["sports"]},
        {"kind": "ifa", "key": "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
    ]})
    assert r.status_code == 200
    assert sorted(map(sorted, r.json()["deleted"].values())) == [["auto"], ["sports"]]
    got = client.get("/admin/memberships", headers=env.admin,
                     params={"kind": "domain", "key": "www.example.com"})
    assert got.json()["segments"] == {"auto": None}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param({"upsert": [{"kind": "domain", "key": "a.com", "segments": ["nope"]}]},
                     "unknown segment", id="unknown-segment"),
        pytest.param({"upsert": [{"kind": "shoe", "key": "a", "segments": ["auto"]}]}, "unknown key kind",
                     id="unknown-kind"),
        pytest.param({"upsert": [{"kind": "email", "key": "a@b.com", "segments": ["auto"]}]},
                     "segment-server load", id="dii-needs-loader"),
        pytest.param({"upsert": [{"kind": "domain", "key": "a.com"}]}, "segments", id="no-segments"),
        pytest.param({"delete": [{"kind": "domain"}]}, "kind and key", id="delete-no-key"),
        pytest.param({"delete": [{"kind": "domain", "key": "a.com", "segments": "auto"}]}, "list of ids",
                     id="delete-segments-not-list"),
    ],
)
def test_membership_batch_errors(client: TestClient, env: Env, body: object, detail: str) -> None:
    client.post("/admin/taxonomy", headers=env.admin, json={"segments": SEGMENTS})
    r = client.post("/admin/memberships", headers=env.admin, json=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid_batch"
    assert detail in r.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    "body", [pytest.param({}, id="nothing"), pytest.param({"upsert": {}}, id="not-a-list"),
             pytest.param({"delete": [{}] * 1001}, id="too-many")],
)
def test_membership_request_errors(client: TestClient, env: Env, body: object) -> None:
    r = client.post("/admin/memberships", headers=env.admin, json=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_reload_and_status(client: TestClient, env: Env) -> None:
    r = client.post("/admin/reload", headers=env.admin)
    assert r.status_code == 200 and r.json()["store"]["version"] == 1
    status = client.get("/admin/status", headers=env.admin).json()
    assert status["store"]["version"] == 1 and status["store"]["segments"] == 0
    assert status["auth"]["enabled_scopes"] == ["admin", "rtd", "segments"]
    assert [k["kid"] for k in status["auth"]["signing_keys"]] == [1] and status["auth"]["identities"] == 2
    assert status["mirror"] == {"outbox_depth": 0}
    assert status["broken"] == {"error": "RuntimeError: down"}
    assert "secret" not in str(status["auth"]["signing_keys"])
