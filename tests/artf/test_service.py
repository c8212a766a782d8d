"""GetMutations against the real server: same answers as HTTP /rtd, encoded as ARTF mutations."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from server.artf.pb import agenticrtbframework_pb2 as artf
from server.artf.pb import openrtb_pb2 as openrtb
from server.artf.service import SERVICE
from tests.artf.conftest import Artf, sample, start
from tests.helpers import load_json

BidRequest = openrtb.BidRequest


def rtbrequest(bid_request: BidRequest, **fields: object) -> artf.RTBRequest:
    return artf.RTBRequest(id=str(fields.pop("id", "req-1")), bid_request=bid_request, **fields)  # type: ignore[arg-type]


def mutations(response: artf.RTBResponse) -> list[tuple[str, str, str, list[str]]]:
    return [(artf.Intent.Name(m.intent), artf.Operation.Name(m.op), m.path, list(m.ids.id))
            for m in response.mutations]


@pytest.mark.parametrize("name", ["web", "app"])
def test_index_samples_give_the_same_segments_and_deals_as_http(server: Artf, name: str) -> None:
    http = server.http.post("/rtd", json=load_json(f"index_{name}_request.json")).json()
    assert http["segment_ids"]  # the samples match the test data: the comparison is not empty = empty
    response = server.call(sample(name))
    assert response.id == f"index-{name}-1"
    expected = [("ACTIVATE_SEGMENTS", "OPERATION_ADD", "/user/data/segment", http["segment_ids"])]
    if http["deal_ids"]:
        expected.append(("ACTIVATE_DEALS", "OPERATION_ADD", "/imp/1", http["deal_ids"]))
    assert mutations(response) == expected
    assert response.metadata.api_version == "1.0"
    assert response.metadata.model_version == "1"  # the store snapshot that answered


def test_a_miss_is_an_empty_mutation_list_not_an_error(server: Artf) -> None:
    request = rtbrequest(BidRequest(site=BidRequest.Site(page="https://nothing.test/")), id="miss-7")
    response = server.call(request)
    assert response.id == "miss-7" and not response.mutations and response.metadata.api_version == "1.0"


SPORTS = BidRequest(site=BidRequest.Site(page="https://example.com/sports/"),
                    imp=[BidRequest.Imp(id="1"), BidRequest.Imp(id="2"), BidRequest.Imp(id="1"),
                         BidRequest.Imp()])


@pytest.mark.parametrize(
    ("intents", "expected"),
    [
        pytest.param([], ["ACTIVATE_SEGMENTS", "ACTIVATE_DEALS", "ACTIVATE_DEALS"], id="not-said-means-all"),
        pytest.param([artf.ACTIVATE_SEGMENTS], ["ACTIVATE_SEGMENTS"], id="segments-only"),
        pytest.param([artf.ACTIVATE_DEALS], ["ACTIVATE_DEALS", "ACTIVATE_DEALS"], id="deals-only"),
        pytest.param([artf.BID_SHADE, artf.SUPPRESS_DEALS], [], id="none-of-ours"),
        pytest.param([artf.ACTIVATE_DEALS, artf.ACTIVATE_SEGMENTS],
                     ["ACTIVATE_SEGMENTS", "ACTIVATE_DEALS", "ACTIVATE_DEALS"], id="both-any-order"),
        pytest.param([1000], [], id="unknown-intent-value-is-kept-and-ignored"),
    ],
)
def test_only_applicable_intents_are_sent(server: Artf, intents: list[int], expected: list[str]) -> None:
    response = server.call(rtbrequest(SPORTS, applicable_intents=intents))
    assert [artf.Intent.Name(m.intent) for m in response.mutations] == expected


@pytest.mark.parametrize(
    ("lifecycle", "answered"),
    [
        pytest.param(artf.LIFECYCLE_UNSPECIFIED, True, id="unspecified"),
        pytest.param(artf.LIFECYCLE_PUBLISHER_BID_REQUEST, True, id="bid-request"),
        pytest.param(artf.LIFECYCLE_DSP_BID_RESPONSE, False, id="dsp-response-nothing-to-add"),
    ],
)
def test_lifecycle(server: Artf, lifecycle: int, answered: bool) -> None:
    response = server.call(rtbrequest(SPORTS, lifecycle=lifecycle))
    assert bool(response.mutations) is answered and response.id == "req-1"


def test_deals_go_once_per_distinct_imp_id(server: Artf) -> None:
    got = mutations(server.call(rtbrequest(SPORTS)))
    assert got == [("ACTIVATE_SEGMENTS", "OPERATION_ADD", "/user/data/segment", ["sports"]),
                   ("ACTIVATE_DEALS", "OPERATION_ADD", "/imp/1", ["D-SPORTS"]),
                   ("ACTIVATE_DEALS", "OPERATION_ADD", "/imp/2", ["D-SPORTS"])]
    no_imps = BidRequest(site=BidRequest.Site(page="https://example.com/sports/"))
    assert mutations(server.call(rtbrequest(no_imps)))[1:] == []  # deals need an /imp/{id} to go to


def test_privacy_gate_applies_as_over_http(server: Artf) -> None:
    # The app sample with COPPA on: user-level keys are barred, the same as HTTP decides.
    request = sample("app")
    request.bid_request.regs.coppa = True
    body = load_json("index_app_request.json")
    body["regs"]["coppa"] = 1
    http = server.http.post("/rtd", json=body).json()
    assert [list(m.ids.id) for m in server.call(request).mutations[:1]] == ([http["segment_ids"]]
                                                                             if http["segment_ids"] else [])
    assert "cars" not in http["segment_ids"]


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artf]:
    yield from start(tmp_path_factory.mktemp("hurried"), grpc={"min_budget_ms": 50.0})


@pytest.mark.parametrize(
    ("tmax", "timeout", "answered"),
    [
        pytest.param(0, None, True, id="no-tmax-no-deadline"),
        pytest.param(10_000, 10.0, True, id="plenty-of-time"),
        pytest.param(20, 10.0, False, id="tmax-below-the-floor"),
        pytest.param(0, 0.04, False, id="deadline-below-the-floor"),
    ],
)
def test_deadline_and_tmax_leave_time_or_get_an_empty_answer(hurried: Artf, tmax: int, timeout: float | None,
                                                             answered: bool) -> None:
    # min_budget_ms = 50: with less left than that the answer is empty, sent at once, still OK.
    request = rtbrequest(SPORTS, tmax=tmax)
    try:
        response = hurried.call(request, timeout=timeout)
    except grpc.aio.AioRpcError as exc:  # a 40 ms deadline may pass on a loaded machine: never another code
        assert not answered and exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        return
    assert bool(response.mutations) is answered and response.id == "req-1"


def test_health_and_reflection(server: Artf) -> None:
    async def go() -> tuple[list[int], list[str]]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            statuses = [(await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)).status
                        for name in ("", SERVICE)]
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            names: list[str] = []
            async for answer in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
                    list_services="")]), timeout=10):
                names = [s.name for s in answer.list_services_response.service]
            return statuses, names

    statuses, names = asyncio.run(go())
    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 2
    assert SERVICE in names and "grpc.health.v1.Health" in names


def test_metrics_count_status_codes_and_latency(server: Artf) -> None:
    server.call(rtbrequest(SPORTS))
    server.call(rtbrequest(SPORTS, applicable_intents=[artf.BID_SHADE]))
    server.status(b"\xff")
    deadline = time.monotonic() + 30  # tallies reach /metrics at the next flush (1 s by default)
    text = ""
    while time.monotonic() < deadline:
        text = server.http.get("/metrics").text
        if ('segserver_grpc_requests_total{code="OK",method="GetMutations"}' in text
                and 'code="INVALID_ARGUMENT"' in text
                and "segserver_grpc_request_duration_seconds_bucket" in text
                and 'segserver_segments_returned_count{endpoint="grpc"}' in text
                and 'segserver_grpc_skipped_total{reason="no_intent"}' in text):
            return
        time.sleep(0.2)
    pytest.fail("gRPC metrics did not appear in /metrics:\n" + "\n".join(
        line for line in text.splitlines() if "grpc" in line))


def test_store_trouble_is_a_counted_miss_on_both_protocols(tmp_path: Path) -> None:
    for app in start(tmp_path):
        store = app.http.app.state.services.store
        os.truncate(store.info.path, 8192)  # a real failure: the only snapshot is damaged while serving
        assert app.http.post("/rtd", json=load_json("index_web_request.json")).json() == {
            "segment_ids": [], "deal_ids": []}
        response = app.call(sample("web"))
        assert response.id == "index-web-1" and not response.mutations
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = app.http.get("/metrics").text
            if ('segserver_store_errors_total{endpoint="grpc"} 1.0' in text
                    and 'segserver_store_errors_total{endpoint="rtd"} 1.0' in text):
                break
            time.sleep(0.2)
        else:
            pytest.fail("store errors were not counted")
