"""The store as ``serve`` meets it: missing (503 until ``load`` publishes one), damaged under a
running server (503, "Index retries 5xx", never a 500 crash), replaced by a load (noticed within
``store.check_interval_seconds``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Server, demo_token, run_cli, start_server, wait_for

RELOAD_DEADLINE = 30.0  # check_interval_seconds is 1 s; this caps a stuck worker


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``serve`` on a data dir nothing was ever loaded into (``make run`` without ``make demo``)."""
    server = start_server(tmp_path_factory.mktemp("empty"), workers=1, demo_users=None, ready=None)
    server.wait_ready(200, "/health/live")
    server.token = demo_token(server)
    yield server
    server.stop()


def test_ready_is_503_while_the_store_is_missing(empty: Server) -> None:
    """No snapshot was ever published: every answer would be an empty miss, so not ready
    (``readiness_checks`` asks for ``version > 0``)."""
    with empty.client() as c:
        live, ready = c.get("/health/live"), c.get("/health/ready")
        segments = c.get("/segments", params={"url": "example.com/a"})
    assert live.status_code == 200
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["store"]["ok"] is False
    assert segments.status_code == 503, segments.text


def test_a_load_while_serving_makes_it_ready(empty: Server, tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.jsonl"
    taxonomy.write_text(json.dumps({"id": "sports", "name": "Sports", "ttl_seconds": 600}) + "\n")
    members = tmp_path / "members.csv"
    members.write_text("kind,key,segments,expires\nurl,example.com/sports,sports,\n")
    done = run_cli(empty.config, "load", "--taxonomy", str(taxonomy), str(members))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rejected"] == 0
    empty.wait_ready(200)
    hits = []

    def published() -> bool:  # workers switch within store.check_interval_seconds
        with empty.client() as c:
            hits[:] = [c.get("/segments", params={"url": "example.com/sports/x"})]
        return hits[0].status_code == 200 and hits[0].json()["segment_ids"] == ["sports"]

    wait_for(published, RELOAD_DEADLINE, lambda: hits[0].text)
    hit = hits[0]
    assert hit.headers["cache-control"] == "max-age=600"


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[Server]:
    """The only snapshot cut short under a running server (disk fault, a bad copy over it)."""
    server = start_server(tmp_path, workers=1)
    server.token = demo_token(server)
    with server.client() as c:
        assert c.get("/segments", params={"url": "example.com/before"}).status_code == 200
    store = server.data_dir / "store"
    snapshot = store / (store / "CURRENT").read_text().strip()
    os.truncate(snapshot, 8192)
    server.extra["snapshot"] = str(snapshot)
    yield server
    server.stop()


def test_store_trouble_answers_by_each_endpoints_policy_never_a_crash(damaged: Server) -> None:
    """README → Reliability: the store notices within ``store.check_interval_seconds``; with no good
    snapshot left, ``/segments`` says "retry" (503: Index retries 5xx and would cache a 4xx as "no
    data"), ``/rtd`` answers an empty 200 (Index's circuit breaker counts errors), readiness names the
    file, and nothing crashes."""
    answers: list[httpx.Response] = []

    def segments_retry() -> bool:
        with damaged.client() as c:
            answers[:] = [c.get("/segments", params={"url": "autoworld.test/fresh"})]
        return answers[0].status_code == 503

    wait_for(segments_retry, RELOAD_DEADLINE, lambda: answers[0].text)
    with damaged.client() as c:
        for i in range(3):
            rtd = c.post("/rtd", content=b'{"site": {"page": "https://autoworld.test/fresh-%d"}}' % i)
            assert rtd.status_code == 200 and rtd.json() == {"segment_ids": [], "deal_ids": []}, rtd.text
        ready = c.get("/health/ready")
    assert ready.status_code == 503 and damaged.extra["snapshot"] in ready.text, ready.text
    assert damaged.proc.poll() is None
    assert "Traceback" not in damaged.output()
