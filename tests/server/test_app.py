"""The app's hot routes: a 503 placeholder outside the lifespan, the endpoints themselves inside it."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from server.app import RTD, SEGMENTS, create_app
from server.cached_api import CachedApiEndpoint
from server.rtd import RtdEndpoint
from tests.helpers import settings_for


def test_hot_routes_answer_503_before_startup(data_dir: Path) -> None:
    app = create_app(settings_for(data_dir))
    client = TestClient(app)  # not entered: no lifespan, so no endpoint has been built
    response = client.post("/rtd", json={})
    assert response.status_code == 503
    assert response.json() == {"error": "starting up"}


def test_dispatcher_calls_the_built_endpoints_inside_the_lifespan(data_dir: Path) -> None:
    app = create_app(settings_for(data_dir))
    placeholders = dict(app.hot)
    with TestClient(app) as client:
        assert isinstance(app.hot[RTD], RtdEndpoint)  # no placeholder hop per request
        assert isinstance(app.hot[SEGMENTS], CachedApiEndpoint)
        assert client.post("/rtd", json={"site": {"page": "https://example.com/sports"}}).json() == {
            "segment_ids": ["sports"], "deal_ids": ["D-SPORTS"]}
    assert app.hot == placeholders  # after shutdown, back to the placeholders


def test_unknown_routes_and_methods_answer_json_errors(data_dir: Path) -> None:
    with TestClient(create_app(settings_for(data_dir))) as client:
        missing = client.delete("/admin/taxonomy/a%0Ab/extra")  # no route has that shape
        wrong_method = client.put("/health/live")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert wrong_method.status_code == 405 and wrong_method.json() == {"error": "Method Not Allowed"}
    assert "GET" in wrong_method.headers["allow"]
