"""``/status`` and ``/status.json``: access rules, defensive reads, and the numbers they show."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.testclient import TestClient

from server import metrics as M
from server.observability import routes
from server.observability.settings import ObservabilitySettings
from server.observability.status import quantile, summarize

NOW = time.time()


class FakeRefresher:
    def __init__(self, state: str = "ready") -> None:
        self.snapshot = SimpleNamespace(identity_scope=SimpleNamespace(name="UID2"))
        self._state = state

    def ops_state(self, now: float | None = None) -> dict[str, Any]:
        return {"state": self._state, "count": 3, "last_refresh": (now or NOW) - 60,
                "newest_expiry": (now or NOW) + 86400, "refresh_count": 2, "failure_count": 1,
                "consecutive_failures": 0, "last_error": "ConnectError: to 203.0.113.5 with api_key=abc123"}


class FakeOutbox:
    def stats(self) -> Any:
        return SimpleNamespace(depth=7, oldest_age=12.5, dead_letters={"invalid_user": 2}, sent_last_5min=40,
                               last_auth=(NOW, "ok"), lease_holder="host:1")

    def depth(self) -> int:
        return 7


class FakeGuard:
    def __init__(self, admin: bool) -> None:
        self.admin = admin

    def enabled(self, scope: str) -> bool:
        return self.admin and scope == "admin"

    def check(self, authorization: str | None, scope: str) -> Any:
        if authorization == "Bearer good":
            return None
        return SimpleNamespace(response=lambda: Response(b'{"error":"invalid_token"}', 401))


def _client(services: Any, local_only: bool = False, client_host: str = "testclient",
            **obs: Any) -> TestClient:
    app = Starlette(routes=routes())
    app.state.settings = SimpleNamespace(observability=ObservabilitySettings(status_local_only=local_only,
                                                                             **obs))
    app.state.services = services
    return TestClient(app, client=(client_host, 1234))


def _services(**kw: Any) -> Any:
    store = SimpleNamespace(info=SimpleNamespace(version=4, members=1200, segments=9,
                                                 created_at=time.time() - 30))
    base: dict[str, Any] = {"store": store, "guard": None, "mirror": None, "decryptor": None, "extras": {}}
    base.update(kw)
    return SimpleNamespace(**base)


def test_page_is_html_with_the_poller() -> None:
    r = _client(_services()).get("/status")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "status.json" in r.text and "<script>" in r.text


def test_json_shows_not_configured_when_subsystems_are_absent() -> None:
    doc = _client(_services()).get("/status.json").json()
    assert doc["store"] == {"configured": True, "version": 4, "members": 1200, "segments": 9,
                            "age_seconds": pytest.approx(30, abs=5)}
    assert doc["uid2"]["configured"] is False and doc["uid2"]["keysets"] == {}
    assert doc["mirror"]["configured"] is False and doc["mirror"]["outbox"] is None
    assert set(doc["endpoints"]) >= {"rtd", "segments"}


def test_json_reads_refreshers_and_outbox_from_services() -> None:
    services = _services(extras={"uid2": {"UID2": FakeRefresher()}, "outbox": FakeOutbox()})
    doc = _client(services).get("/status.json").json()
    keys = doc["uid2"]["keysets"]["UID2"]
    assert keys["state"] == "ready" and keys["count"] == 3
    assert keys["seconds_since_refresh"] == pytest.approx(60, abs=2)
    assert "203.0.113.5" not in keys["last_error"] and "abc123" not in keys["last_error"]
    assert doc["mirror"]["configured"] is True
    outbox = doc["mirror"]["outbox"]
    assert outbox["depth"] == 7 and outbox["dead_letters"] == {"invalid_user": 2}


def test_broken_collaborators_do_not_break_the_page() -> None:
    class Broken:
        @property
        def info(self) -> Any:
            raise RuntimeError("no snapshot")

        def ops_state(self, now: float | None = None) -> Any:
            raise RuntimeError("boom")

    mirror = SimpleNamespace(outbox=property(lambda self: (_ for _ in ()).throw(RuntimeError("not started"))))
    doc = _client(_services(store=Broken(), extras={"k": Broken()}, mirror=mirror)).get("/status.json").json()
    assert doc["store"]["error"] == "RuntimeError"
    assert doc["uid2"]["keysets"]["k"]["state"] == "error"
    assert _client(None).get("/status.json").status_code == 200


ADMIN = FakeGuard(admin=True)
NO_ADMIN_AUTH = FakeGuard(admin=False)


@pytest.mark.parametrize(("host", "local_only", "guard", "token", "page", "data"), [
    # status_local_only (the default, and what `make run` prints): this machine, no token.
    pytest.param("127.0.0.1", True, ADMIN, None, 200, 200, id="local-only: loopback v4, no token"),
    pytest.param("::1", True, ADMIN, None, 200, 200, id="local-only: loopback v6, no token"),
    pytest.param("::ffff:127.0.0.1", True, ADMIN, None, 200, 200, id="local-only: v4-mapped loopback"),
    pytest.param("203.0.113.9", True, ADMIN, "good", 403, 403,
                 id="local-only: remote refused even with a token"),
    pytest.param("testclient", True, None, None, 403, 403, id="local-only: unparsable address refused"),
    # Off: an admin-scope token opens the data; the HTML shell is static and asks for one.
    pytest.param("203.0.113.9", False, ADMIN, None, 200, 401, id="token: no token"),
    pytest.param("203.0.113.9", False, ADMIN, "bad", 200, 401, id="token: bad token"),
    pytest.param("203.0.113.9", False, ADMIN, "good", 200, 200, id="token: admin token"),
    pytest.param("127.0.0.1", False, ADMIN, None, 200, 401, id="token: loopback needs one too"),
    pytest.param("203.0.113.9", False, NO_ADMIN_AUTH, None, 200, 200, id="admin auth off: open"),
])
def test_access(host: str, local_only: bool, guard: FakeGuard | None, token: str | None, page: int,
                data: int) -> None:
    client = _client(_services(guard=guard), local_only=local_only, client_host=host)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    assert client.get("/status", headers=headers).status_code == page
    assert client.get("/status.json", headers=headers).status_code == data


def test_disabled() -> None:
    client = _client(_services(), status_page_enabled=False)
    assert client.get("/status").status_code == 404 and client.get("/status.json").status_code == 404


def test_json_counts_follow_the_metrics() -> None:
    client = _client(_services())
    before = client.get("/status.json").json()
    M.REQUESTS.labels("rtd", "200").inc(3)
    M.REQUESTS.labels("rtd", "503").inc()
    M.PRIVACY_DECISIONS.labels("gpc").inc(2)
    M.LATENCY.labels("rtd").observe(0.0004)
    after = client.get("/status.json").json()
    rtd_before, rtd_after = before["endpoints"]["rtd"], after["endpoints"]["rtd"]
    assert rtd_after["requests"] - rtd_before["requests"] == 4
    assert rtd_after["server_errors"] - rtd_before["server_errors"] == 1
    assert after["privacy"]["gpc"] - before["privacy"].get("gpc", 0) == 2
    assert rtd_after["latency"]["count"] - rtd_before["latency"]["count"] == 1


@pytest.mark.parametrize(("buckets", "q", "expected"), [
    pytest.param([], 0.5, None, id="empty"),
    pytest.param([(0.001, 0.0), (math.inf, 0.0)], 0.5, None, id="no-observations"),
    pytest.param([(0.001, 10.0), (0.002, 20.0), (math.inf, 20.0)], 0.5, 0.001, id="on-a-bound"),
    pytest.param([(0.001, 10.0), (0.002, 20.0), (math.inf, 20.0)], 0.75, 0.0015, id="interpolated"),
    pytest.param([(0.001, 0.0), (0.002, 10.0), (math.inf, 10.0)], 0.1, 0.0011, id="first-nonempty-bucket"),
    pytest.param([(0.001, 5.0), (math.inf, 10.0)], 0.99, 0.001, id="inf-bucket-answers-lower-bound"),
])
def test_quantile(buckets: list[tuple[float, float]], q: float, expected: float | None) -> None:
    got = quantile(buckets, q)
    assert got == (None if expected is None else pytest.approx(expected))


def test_summarize_sums_workers_and_endpoints() -> None:
    reg = CollectorRegistry()
    req = Counter("segserver_requests", "r", ["endpoint", "status"], registry=reg)
    lat = Histogram("segserver_request_duration_seconds", "l", ["endpoint"], buckets=(0.001, 0.002),
                    registry=reg)
    req.labels("rtd", "200").inc(5)
    req.labels("segments", "400").inc(2)
    for v in (0.0005, 0.0015, 0.0015, 0.003):
        lat.labels("rtd").observe(v)
    doc = summarize(reg.collect())
    assert doc["endpoints"]["rtd"]["requests"] == 5 and doc["endpoints"]["segments"]["client_errors"] == 2
    assert doc["endpoints"]["rtd"]["latency"]["buckets"] == [[0.001, 1.0], [0.002, 3.0], ["+Inf", 4.0]]
    assert doc["endpoints"]["rtd"]["latency"]["p50"] == pytest.approx(0.0015)
