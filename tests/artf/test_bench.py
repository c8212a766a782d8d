"""loadtest/bench_grpc.py sends both protocols the same requests: check it on its own traffic mix."""

from __future__ import annotations

import orjson

from loadtest import traffic
from loadtest.bench_grpc import build_requests
from server.artf.convert import bid_request_doc
from server.artf.pb import agenticrtbframework_pb2 as artf
from server.openrtb import parse_request


def test_each_grpc_request_carries_the_signals_of_its_http_twin() -> None:
    http, pb, metadata = build_requests(traffic.TrafficPlan(users=300), "tok", 200)
    assert len(http) == len(pb) == len(metadata) == 200
    for raw_http, raw_pb, md in zip(http, pb, metadata, strict=True):
        head, body = raw_http.split(b"\r\n\r\n", 1)
        gpc = b"\r\nSec-GPC: 1" in head
        request = artf.RTBRequest.FromString(raw_pb)
        assert dict(md)["authorization"] == "Bearer tok" and (("sec-gpc", "1") in md) is gpc
        doc = bid_request_doc(request.bid_request)
        assert parse_request(doc, gpc_header=gpc) == parse_request(orjson.loads(body), gpc_header=gpc)
