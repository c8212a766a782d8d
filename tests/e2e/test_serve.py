"""README promises of ``segment-server serve --workers 1|2`` with auth on, as production runs it.

Index's two published sample requests get the demo data set's segments; ``/segments`` answers with
``Cache-Control``; ``/metrics`` and ``/status.json`` count exactly the traffic sent, whatever the
worker count; the probes answer; ``Sec-GPC: 1`` turns user-level keys off.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from segments import demo
from tests import metrics_text
from tests.e2e.harness import ROOT, Server, wait_for
from tests.metrics_text import Samples, total

SAMPLES = ROOT / "tests" / "data"
TAXONOMY = {row["id"]: row for row in demo.taxonomy()}
# The rows segments/demo.py writes for the literal values of Index's samples (seed 004).
SAMPLE_EID_SEGMENTS = ["cat_owners", "target_shoppers"]
WEB_CONTEXTUAL = ["news_readers", "gender_female", "outdoor"]  # url, domain, geo rows, in key priority
APP_CONTEXTUAL = ["gamers", "students"]  # the bundle row
METRICS_DEADLINE = 20.0  # workers move tallies into /metrics once a second; this only caps a hang



def scrape(server: Server) -> Samples:
    """``/metrics`` with the server's token, as the scraper of an auth-on deployment sends it."""
    return metrics_text.scrape(server.base,
                               headers={"authorization": f"Bearer {server.token}"} if server.token else {})


SETTLED_ROUNDS = 3  # scrapes in a row that must agree (a worker starved on a loaded box flushes late)


def _requests(samples: Samples) -> Samples:
    return {k: v for k, v in samples.items() if k[0] == "segserver_requests_total"}


def settled(server: Server) -> Samples:
    """A baseline after earlier tests' requests reached /metrics: ``SETTLED_ROUNDS`` scrapes, each a
    flush period after the last, agree. One agreeing pair was not enough on a loaded CI box: a worker
    whose flush task ran late let the previous test's requests land inside the next test's deltas."""
    seen = [_requests(scrape(server))]
    for _ in range(40):  # a cap: nothing else sends traffic while a test runs
        time.sleep(1.2)  # > observability.metrics_flush_interval_seconds (1.0): one flush round
        now = scrape(server)
        seen = [*seen, _requests(now)][-SETTLED_ROUNDS:]
        if len(seen) == SETTLED_ROUNDS and all(s == seen[0] for s in seen):
            return now
    raise AssertionError("/metrics never settled: something keeps sending traffic")


def deals_of(segment_ids: list[str]) -> set[str]:
    return {d for s in segment_ids for d in TAXONOMY[s].get("deal_ids", [])}  # type: ignore[attr-defined]


def post_sample(server: Server, name: str, **headers: str) -> httpx.Response:
    with server.client(headers={"content-type": "application/json", **headers}) as c:
        return c.post("/rtd", content=(SAMPLES / name).read_bytes())


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(x in it for x in part)


@pytest.mark.parametrize(("sample", "contextual"), [
    pytest.param("index_web_request.json", WEB_CONTEXTUAL, id="web"),
    pytest.param("index_app_request.json", APP_CONTEXTUAL, id="app"),
])
def test_index_sample_requests_get_their_segments(served: Server, sample: str, contextual: list[str]) -> None:
    response = post_sample(served, sample)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"segment_ids", "deal_ids"}
    ids = body["segment_ids"]
    assert ids[:2] == SAMPLE_EID_SEGMENTS, "the eid is the highest-priority key present"
    assert is_subsequence(contextual, ids), ids
    assert len(ids) == len(set(ids)) and set(ids) <= set(TAXONOMY)
    assert set(body["deal_ids"]) == deals_of(ids) and len(body["deal_ids"]) == len(set(body["deal_ids"]))


def test_segments_answers_with_cache_control(served: Server) -> None:
    with served.client() as c:
        hit = c.get("/segments", params={"url": "example.com/sports/football"})
        miss = c.get("/segments", params={"url": "nothing-here.invalid/x"})
        bad = c.get("/segments", params={"nope": "1"})
    assert hit.status_code == 200, hit.text
    ids = hit.json()["segment_ids"]
    assert ids and "news_readers" in ids  # example.com/sports/football is under example.com
    expected_ttl = min(min(int(TAXONOMY[s].get("ttl_seconds", 86400)) for s in ids), 86400)  # type: ignore[call-overload]
    assert hit.headers["cache-control"] == f"max-age={expected_ttl}"
    assert miss.status_code == 200 and miss.json() == {"segment_ids": [], "deal_ids": []}
    assert miss.headers["cache-control"] == "max-age=3600"  # negative_ttl_seconds default
    assert bad.status_code == 400 and "url" in bad.text  # lists the accepted parameters


def test_auth_is_on(served: Server) -> None:
    with served.client(token="") as c:
        assert c.post("/rtd", content=b"{}").status_code == 401
        assert c.get("/segments", params={"url": "example.com"}).status_code == 401
        assert c.get("/admin/status").status_code == 401
    with served.client(token="ss1_not-a-token") as c:
        assert c.post("/rtd", content=b"{}").status_code == 401


def test_probes(served: Server) -> None:
    live = httpx.get(served.base + "/health/live", timeout=5)
    ready = httpx.get(served.base + "/health/ready", timeout=5)
    assert live.status_code == 200
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["checks"]["store"]["ok"] is True


def _traffic(server: Server, n_rtd: int, n_rtd_bad: int, n_seg: int, n_seg_bad: int) -> None:
    """Over fresh connections from several threads, so every worker serves some of it."""
    web = (SAMPLES / "index_web_request.json").read_bytes()

    def call(i: int) -> int:
        with server.client(headers={"connection": "close"}) as c:
            if i < n_rtd:
                return c.post("/rtd", content=web).status_code
            if i < n_rtd + n_rtd_bad:
                return c.post("/rtd", content=b"{not json").status_code
            if i < n_rtd + n_rtd_bad + n_seg:
                return c.get("/segments", params={"url": "example.com/section"}).status_code
            return c.get("/segments", params={"bogus": "1"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(call, range(n_rtd + n_rtd_bad + n_seg + n_seg_bad)))
    assert statuses.count(200) == n_rtd + n_seg and statuses.count(400) == n_rtd_bad + n_seg_bad, statuses


def test_metrics_count_both_endpoints_exactly(served: Server) -> None:
    """The default ``make run`` is one worker: /metrics must not be empty there (issue 29)."""
    before = settled(served)
    _traffic(served, 12, 3, 9, 2)
    want = {("rtd", "200"): 12.0, ("rtd", "400"): 3.0, ("segments", "200"): 9.0, ("segments", "400"): 2.0}

    def deltas() -> dict[tuple[str, str], float]:
        now = scrape(served)
        return {(e, s): total(now, "segserver_requests_total", endpoint=e, status=s)
                - total(before, "segserver_requests_total", endpoint=e, status=s) for e, s in want}

    got: list[dict[tuple[str, str], float]] = [{}]

    def complete() -> bool:
        got[0] = deltas()
        return got[0] == want

    wait_for(complete, METRICS_DEADLINE, lambda: f"/metrics deltas {got[0]} != {want}")
    now = scrape(served)
    assert total(now, "segserver_request_duration_seconds_count", endpoint="rtd") >= 15
    assert total(now, "segserver_store_snapshot_version") >= 1


def test_status_json_counts_traffic(served: Server) -> None:
    def requests(doc: dict[str, Any], endpoint: str) -> int:
        return int(doc["endpoints"][endpoint]["requests"])

    settled(served)
    with served.client() as c:
        before = c.get("/status.json").json()
    _traffic(served, 5, 0, 4, 0)
    doc: list[dict[str, Any]] = [before]

    def counted() -> bool:
        with served.client() as c:
            doc[0] = c.get("/status.json").json()
        return (requests(doc[0], "rtd") - requests(before, "rtd"), requests(doc[0], "segments")
                - requests(before, "segments")) == (5, 4)

    wait_for(counted, METRICS_DEADLINE, lambda: f"/status.json endpoints: {doc[0]['endpoints']}")
    assert doc[0]["store"]["configured"] is True and doc[0]["store"]["version"] >= 1


@pytest.mark.parametrize("signal_in", [
    pytest.param({"headers": {"sec-gpc": "1"}}, id="Sec-GPC-header"),
    pytest.param({"body": {"regs": {"ext": {"gpc": 1}}}}, id="regs.ext.gpc"),
])
def test_gpc_turns_user_level_keys_off(served: Server, signal_in: dict[str, Any]) -> None:
    body = orjson.loads((SAMPLES / "index_web_request.json").read_bytes())
    ext = signal_in.get("body", {}).get("regs", {}).get("ext", {})
    body.setdefault("regs", {}).setdefault("ext", {}).update(ext)
    with served.client(headers={"content-type": "application/json", **signal_in.get("headers", {})}) as c:
        opted_out = c.post("/rtd", content=orjson.dumps(body))
    plain = post_sample(served, "index_web_request.json")
    assert opted_out.status_code == 200 and plain.status_code == 200
    ids, plain_ids = opted_out.json()["segment_ids"], plain.json()["segment_ids"]
    assert not set(SAMPLE_EID_SEGMENTS) & set(ids), "the eid is a user-level key: GPC forbids it"
    assert set(SAMPLE_EID_SEGMENTS) <= set(plain_ids)
    assert is_subsequence(WEB_CONTEXTUAL, ids), "contextual keys stay usable"
    assert re.fullmatch(r"[\w-]*", "".join(ids))


@pytest.mark.parametrize(("body", "status"), [
    pytest.param(b"{not json", 400, id="malformed"),
    pytest.param(b"[1, 2]", 400, id="not-an-object"),
    pytest.param(b'{"site": {"page": "' + b"a" * 70_000 + b'"}}', 413, id="over-64KiB"),
    pytest.param(b'{"site": 5, "user": {"eids": "x"}, "device": []}', 200, id="wrong-types-ignored"),
])
def test_bad_input_gets_a_clear_answer(served: Server, body: bytes, status: int) -> None:
    with served.client(headers={"content-type": "application/json"}) as c:
        response = c.post("/rtd", content=body)
    assert response.status_code == status, response.text
    doc = response.json()
    if status == 200:
        assert doc == {"segment_ids": [], "deal_ids": []}
    else:
        assert isinstance(doc["error"], str)


def test_admin_status_with_the_demo_token(served: Server) -> None:
    with served.client() as c:
        doc = c.get("/admin/status")
    assert doc.status_code == 200, doc.text
    assert doc.json()["store"]["version"] >= 1
