"""``GET /metrics``: allowed networks without a token, a static scrape token, an admin token; else 401."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.testclient import TestClient

from server.observability import routes
from server.observability.settings import ObservabilitySettings


class AdminGuard:
    def enabled(self, scope: str) -> bool:
        return scope == "admin"

    def check(self, authorization: str | None, scope: str) -> Any:
        ok = authorization == "Bearer admin-token" and scope == "admin"
        return None if ok else SimpleNamespace(response=lambda: Response(b"{}", 401))


def _client(host: str, **obs: Any) -> TestClient:
    app = Starlette(routes=routes())
    app.state.settings = SimpleNamespace(observability=ObservabilitySettings(**obs))
    app.state.services = SimpleNamespace(guard=AdminGuard())
    return TestClient(app, client=(host, 1234))


@pytest.mark.parametrize(("host", "settings", "token", "status"), [
    pytest.param("127.0.0.1", {}, None, 200, id="default: loopback v4"),
    pytest.param("::1", {}, None, 200, id="default: loopback v6"),
    pytest.param("203.0.113.9", {}, None, 401, id="default: remote without token"),
    pytest.param("203.0.113.9", {}, "admin-token", 200, id="admin-scope token"),
    pytest.param("203.0.113.9", {"metrics_token": "scrape-me"}, "scrape-me", 200, id="scrape token"),
    pytest.param("203.0.113.9", {"metrics_token": "scrape-me"}, "scrape-mf", 401, id="wrong scrape token"),
    pytest.param("203.0.113.9", {}, "scrape-me", 401, id="no scrape token configured"),
    pytest.param("10.1.2.3", {"metrics_allow": ("10.0.0.0/8",)}, None, 200, id="allow-listed network"),
    pytest.param("127.0.0.1", {"metrics_allow": ("10.0.0.0/8",)}, None, 401,
                 id="allow-list replaces loopback"),
    pytest.param("198.51.100.1", {"metrics_allow": ("0.0.0.0/0", "::/0")}, None, 200, id="open on purpose"),
    pytest.param("testclient", {}, None, 401, id="unparsable address"),
])
def test_metrics_access(host: str, settings: dict[str, Any], token: str | None, status: int) -> None:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    r = _client(host, **settings).get("/metrics", headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "metrics_allow" in r.json()["error"]
    else:
        assert r.headers["content-type"].startswith("text/plain")


def test_scrape_token_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics-token"
    secret.write_text("from-a-file\n")
    client = _client("203.0.113.9", metrics_token_file=str(secret))
    assert client.get("/metrics", headers={"authorization": "Bearer from-a-file"}).status_code == 200
    assert client.get("/metrics").status_code == 401


@pytest.mark.parametrize(("settings", "problem"), [
    pytest.param({"metrics_allow": ("10.0.0.0/8", "office")}, "metrics_allow: 'office'", id="bad network"),
    pytest.param({"metrics_token_file": "/nonexistent/token"}, "metrics_token_file", id="unreadable file"),
])
def test_settings_name_the_bad_key(settings: dict[str, Any], problem: str) -> None:
    assert any(p.startswith(problem) for p in ObservabilitySettings(**settings).validate("observability"))
