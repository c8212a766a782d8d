"""The wire format, pinned with bytes built by hand from the field numbers in the specs.

Every tag below is written out from the ARTF v1.0 spec / repository and IAB's OpenRTB 2.6 proto
(see the header of ``proto/*.proto``), not taken from our generated code: if a number in our
``.proto`` drifted, these bytes would decode into the wrong field and the test would fail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.artf.convert import bid_request_doc, imp_ids, response_bytes
from server.artf.pb import agenticrtbframework_pb2 as artf
from server.lookup import Answer

VARINT, LEN = 0, 2


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def num(field: int, value: int) -> bytes:
    return tag(field, VARINT) + varint(value)


def ld(field: int, *parts: bytes | str) -> bytes:
    body = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return tag(field, LEN) + varint(len(body)) + body


# OpenRTB 2.6 (openrtb2.x openrtb.proto): BidRequest.imp=2 site=3 app=4 device=5 user=6 regs=14;
# Imp.id=1; Site.domain=3 page=7 content=12; App.domain=3 bundle=8; Content.id=1 url=6; Device.ip=3
# geo=4 ipv6=9 os=14 ifa=20 lmt=23; Geo.country=3 zip=8; User.id=1 consent=10 eids=11 ext=99;
# User.Ext.consent=1 eids=2; EID.source=1 uids=2; UID.id=1; Regs.coppa=1 gpp=2 gpp_sid=3 gdpr=4
# us_privacy=5 ext=99; Regs.Ext.gdpr=1 us_privacy=2 gpc=3.
BID_REQUEST = b"".join([
    ld(2, ld(1, "imp-a")), ld(2, ld(1, "imp-b")),
    ld(3, ld(3, "news.example.co.uk"), ld(7, "https://news.example.co.uk/a/b"), ld(12, ld(1, "ep-1"), ld(6, "https://v.test/x"))),
    ld(5, ld(3, "198.51.100.7"), ld(4, ld(3, "USA"), ld(8, "10001")), ld(9, "2001:db8::1"), ld(14, "iOS"),
       ld(20, "aebe52e7-03ee-455a-b3c4-e57283966239"), num(23, 1)),
    ld(6, ld(1, "user-1"), ld(10, "CONSENT26"), ld(11, ld(1, "liveramp.com"), ld(2, ld(1, "XY1"))),
       ld(99, ld(1, "CONSENT25"), ld(2, ld(1, "id5-sync.com"), ld(2, ld(1, "ID5"))))),
    num(8, 120), ld(1, "bid-request-id"), ld(3, ld(1, "site-id")),  # tmax, id, site.id: not ours, skipped
    ld(14, num(1, 0), ld(2, "DBABMA~"), ld(3, varint(7) + varint(8)), num(4, 1), ld(5, "1YNN"),
       ld(99, num(1, 0), ld(2, "1---"), ld(3, "1"))),
    ld(15, "unknown OpenRTB field"), num(22, 3),  # fields we do not declare: skipped
])
# ARTF v1.0: RTBRequest.lifecycle=1 id=2 tmax=3 bid_request=4 bid_response=5 originator=6
# applicable_intents=7 ext=99; Intent ACTIVATE_SEGMENTS=1 ACTIVATE_DEALS=2 BID_SHADE=6.
RTB_REQUEST = b"".join([
    num(1, 1), ld(2, "req-42"), num(3, 25), ld(4, BID_REQUEST),
    ld(5, ld(1, "a bid response")), ld(6, num(1, 3), ld(2, "ssp-1")),  # not declared by us: skipped
    ld(7, varint(1) + varint(6)), num(7, 2),  # packed and unpacked repeated enum, both accepted
    ld(99, ld(600, "privacy context")),
])


def test_hand_built_request_decodes_field_by_field() -> None:
    request = artf.RTBRequest.FromString(RTB_REQUEST)
    assert request.lifecycle == artf.LIFECYCLE_PUBLISHER_BID_REQUEST
    assert (request.id, request.tmax) == ("req-42", 25)
    assert list(request.applicable_intents) == [artf.ACTIVATE_SEGMENTS, artf.BID_SHADE, artf.ACTIVATE_DEALS]
    assert imp_ids(request.bid_request) == ["imp-a", "imp-b"]
    assert bid_request_doc(request.bid_request) == {
        "site": {"domain": "news.example.co.uk", "page": "https://news.example.co.uk/a/b",
                 "content": {"id": "ep-1", "url": "https://v.test/x"}},
        "device": {"ip": "198.51.100.7", "geo": {"country": "USA", "zip": "10001"}, "ipv6": "2001:db8::1",
                   "os": "iOS", "ifa": "aebe52e7-03ee-455a-b3c4-e57283966239", "lmt": 1},
        "user": {"id": "user-1", "consent": "CONSENT26",
                 "eids": [{"source": "liveramp.com", "uids": [{"id": "XY1"}]}],
                 "ext": {"consent": "CONSENT25",
                         "eids": [{"source": "id5-sync.com", "uids": [{"id": "ID5"}]}]}},
        "regs": {"coppa": 0, "gpp": "DBABMA~", "gpp_sid": [7, 8], "gdpr": 1, "us_privacy": "1YNN",
                 "ext": {"gdpr": 0, "us_privacy": "1---", "gpc": "1"}},
    }


def test_app_and_its_content_decode() -> None:
    app = ld(4, ld(3, "appexample.com"), ld(8, "com.kids.game"), ld(12, ld(1, "episode-42")))
    request = artf.RTBRequest.FromString(ld(4, app))
    assert bid_request_doc(request.bid_request) == {
        "app": {"domain": "appexample.com", "bundle": "com.kids.game", "content": {"id": "episode-42"}}}


def test_response_encodes_to_the_hand_built_bytes() -> None:
    # RTBResponse.id=1 mutations=2 metadata=3; Mutation.intent=1 op=2 path=3 ids=100; IDsPayload.id=1;
    # Metadata.api_version=1 model_version=2; Operation OPERATION_ADD=1.
    answer = Answer(["s1", "s2"], ["d1"], False, [])
    got = response_bytes("req-42", answer, (), ["7"], artf.Metadata(api_version="1.0", model_version="3"))
    assert got == b"".join([
        ld(1, "req-42"),
        ld(2, num(1, 1), num(2, 1), ld(3, "/user/data/segment"), ld(100, ld(1, "s1"), ld(1, "s2"))),
        ld(2, num(1, 2), num(2, 1), ld(3, "/imp/7"), ld(100, ld(1, "d1"))),
        ld(3, ld(1, "1.0"), ld(2, "3")),
    ])


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        pytest.param(artf.Intent, {"INTENT_UNSPECIFIED": 0, "ACTIVATE_SEGMENTS": 1, "ACTIVATE_DEALS": 2,
                                   "SUPPRESS_DEALS": 3, "ADJUST_DEAL_FLOOR": 4, "ADJUST_DEAL_MARGIN": 5,
                                   "BID_SHADE": 6, "ADD_METRICS": 7, "ADD_CIDS": 8, "VALIDATE_PRIVACY": 9},
                     id="Intent"),
        pytest.param(artf.Operation, {"OPERATION_UNSPECIFIED": 0, "OPERATION_ADD": 1, "OPERATION_REMOVE": 2,
                                      "OPERATION_REPLACE": 3}, id="Operation"),
        pytest.param(artf.Lifecycle, {"LIFECYCLE_UNSPECIFIED": 0, "LIFECYCLE_PUBLISHER_BID_REQUEST": 1,
                                      "LIFECYCLE_DSP_BID_RESPONSE": 2}, id="Lifecycle"),
    ],
)
def test_enum_values_are_the_specs(enum: object, values: dict[str, int]) -> None:
    assert dict(enum.items()) == values  # type: ignore[attr-defined]


def test_packages_and_method_path() -> None:
    from server.artf.pb import agenticrtbframeworkservices_pb2 as services
    from server.artf.service import PATH

    method = services.DESCRIPTOR.services_by_name["RTBExtensionPoint"].methods_by_name["GetMutations"]
    assert PATH == "/com.iabtechlab.bidstream.mutation.services.v1.RTBExtensionPoint/GetMutations"
    assert f"/{method.containing_service.full_name}/{method.name}" == PATH
    assert method.input_type.full_name == "com.iabtechlab.bidstream.mutation.v1.RTBRequest"
    assert artf.RTBRequest.DESCRIPTOR.fields_by_name["bid_request"].message_type.full_name == \
        "com.iabtechlab.openrtb.v2.BidRequest"


def test_committed_modules_match_the_proto_files() -> None:
    pytest.importorskip("grpc_tools")  # build-time dependency (the dev extra)
    script = Path(__file__).resolve().parents[2] / "proto" / "generate.py"
    result = subprocess.run([sys.executable, str(script), "--check"], check=False, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
