"""protobuf BidRequest → the dict the OpenRTB parser reads: the same signals as the JSON body."""

from __future__ import annotations

from typing import Any

import pytest

from server.artf.convert import MAX_DEAL_IMPS, bid_request_doc, bid_request_from_json, imp_ids
from server.artf.pb import openrtb_pb2 as openrtb
from server.openrtb import parse_request
from tests.helpers import load_json

CASES = [
    pytest.param(load_json("index_web_request.json"), id="index-web"),
    pytest.param(load_json("index_app_request.json"), id="index-app"),
    pytest.param({"user": {"eids": [{"source": "uidapi.com", "uids": [{"id": "A4AAAA"}]}], "consent": "CP"},
                  "regs": {"gdpr": 1, "gpp": "DBABMA~", "gpp_sid": [2, 7]}}, id="2.6-locations"),
    pytest.param({"device": {"ifa": "aebe52e7-03ee-455a-b3c4-e57283966239", "lmt": 1, "ip": "203.0.113.9"}},
                 id="lmt"),
    pytest.param({"regs": {"coppa": 1}, "app": {"bundle": "com.kids.game", "content": {"id": "episode-42"}}},
                 id="coppa-app"),
    pytest.param({"regs": {"ext": {"gpc": "1"}}, "site": {"page": "https://example.com/sports/"}}, id="gpc"),
    pytest.param({}, id="empty"),
]


@pytest.mark.parametrize("doc", CASES)
def test_same_signals_as_the_json_body(doc: dict[str, Any]) -> None:
    assert parse_request(bid_request_doc(bid_request_from_json(doc))) == parse_request(doc)


def test_presence_is_kept_absent_stays_absent() -> None:
    explicit = openrtb.BidRequest(regs=openrtb.BidRequest.Regs(gdpr=False))
    assert bid_request_doc(explicit) == {"regs": {"gdpr": 0}}  # gdpr = 0 said, not "unknown"
    assert bid_request_doc(openrtb.BidRequest(regs=openrtb.BidRequest.Regs())) == {"regs": {}}
    assert bid_request_doc(openrtb.BidRequest()) == {}


def test_imp_ids_are_distinct_non_empty_and_capped() -> None:
    imps = [openrtb.BidRequest.Imp(id=str(i % 100)) for i in range(300)] + [openrtb.BidRequest.Imp()]
    ids = imp_ids(openrtb.BidRequest(imp=imps))
    assert ids == [str(i) for i in range(MAX_DEAL_IMPS)]
    assert imp_ids(openrtb.BidRequest(imp=[openrtb.BidRequest.Imp(id=""), openrtb.BidRequest.Imp(id="a"),
                                           openrtb.BidRequest.Imp(id="a")])) == ["a"]
