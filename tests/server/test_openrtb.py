from typing import Any

import pytest

from segments import keys as K
from server.openrtb import parse_request, registrable_domain
from tests.helpers import load_json


def test_seed_web_sample() -> None:
    s = parse_request(load_json("index_web_request.json"))
    assert s.keys[K.URL] == ["example.com/section", "example.com/content-link"]
    assert s.keys[K.DOMAIN] == ["example.com"]
    assert s.keys[K.GEO] == ["USA:55555"]
    assert s.keys[K.USER_ID] == ["AbcdEfgHijklmnoP"]
    assert s.keys[K.EID] == ["id_provider.com:" + "Abcdefgh1234567" * 5, "provider_id.org:123456-abcde-123456-abcde-123456"]
    assert s.privacy.gdpr == 0 and s.site_domain == "example.com"
    assert s.ip == "100.00.000.000" and s.invalid_fields == 0


def test_seed_app_sample() -> None:
    s = parse_request(load_json("index_app_request.json"))
    assert s.keys[K.BUNDLE] == ["123456789"] and s.app_bundle == "123456789"
    assert s.keys[K.DOMAIN] == ["appexample.com"]
    assert s.keys[K.GEO] == ["USA:555555"]
    p = s.privacy
    assert (p.coppa, p.gdpr, p.us_privacy, p.gpp, p.gpp_sid) == (0, 0, "1---", None, ())


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        pytest.param({"regs": {"gdpr": 1}}, "gdpr", 1, id="gdpr-2.6"),
        pytest.param({"regs": {"ext": {"gdpr": 1}}}, "gdpr", 1, id="gdpr-2.5"),
        pytest.param({"regs": {"gdpr": 0, "ext": {"gdpr": 1}}}, "gdpr", 0, id="gdpr-2.6-wins"),
        pytest.param({"user": {"consent": "CP"}}, "consent", "CP", id="consent-2.6"),
        pytest.param({"user": {"ext": {"consent": "CQ"}}}, "consent", "CQ", id="consent-2.5"),
        pytest.param({"regs": {"us_privacy": "1YYN"}}, "us_privacy", "1YYN", id="usp-2.6"),
        pytest.param({"regs": {"ext": {"us_privacy": "1YNN"}}}, "us_privacy", "1YNN", id="usp-2.5"),
        pytest.param({"regs": {"gpp": "DBAA", "gpp_sid": [2, 6]}}, "gpp_sid", (2, 6), id="gpp_sid"),
        pytest.param({"regs": {"gpp": "DBAA", "gppSid": [7]}}, "gpp_sid", (7,), id="gppSid-index-sample"),
        pytest.param({"regs": {"ext": {"gpp_sid": [8]}}}, "gpp_sid", (8,), id="gpp_sid-ext"),
        pytest.param({"regs": {"coppa": 1}}, "coppa", 1, id="coppa"),
        pytest.param({"device": {"lmt": 1, "ifa": "x"}}, "lmt", 1, id="lmt"),
        pytest.param({"regs": {"ext": {"gpc": "1"}}}, "gpc", True, id="gpc-ext"),
    ],
)
def test_privacy_locations(body: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(parse_request(body).privacy, field) == expected


def test_both_eid_locations_and_token_sources() -> None:
    body = {"user": {
        "eids": [{"source": "uidapi.com", "uids": [{"id": "A4AAAtoken"}]},
                 {"source": "adnxs.com", "uids": [{"id": "123456789"}]}],
        "ext": {"eids": [{"source": "euid.eu", "uids": [{"id": "E4token"}]},
                         {"source": "liveramp.com", "uids": [{"id": "XY1"}]}]},
    }}
    s = parse_request(body, xandr_sources=frozenset({"adnxs.com"}))
    assert [(t.scope, t.token) for t in s.tokens] == [("UID2", "A4AAAtoken"), ("EUID", "E4token")]
    assert s.xandr_ids == ["123456789"]
    assert s.keys[K.EID] == ["liveramp.com:XY1"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"site": "example.com"}, id="site-string"),
        pytest.param({"site": {"page": 5, "domain": ["x"]}}, id="site-fields-wrong"),
        pytest.param({"user": {"eids": {"source": "x"}}}, id="eids-object"),
        pytest.param({"user": {"eids": [5, {"source": 7}, {"source": "a.com", "uids": "x"}]}}, id="eids-items-wrong"),
        pytest.param({"user": {"eids": [{"source": "a.com", "uids": [None, {"id": 3}]}]}}, id="uids-wrong"),
        pytest.param({"regs": {"coppa": "1", "gdpr": True, "gpp_sid": ["2", 6]}}, id="regs-wrong"),
        pytest.param({"device": {"ifa": 12, "geo": [], "lmt": "1"}}, id="device-wrong"),
    ],
)
def test_wrong_types_are_skipped_and_counted(body: dict[str, Any]) -> None:
    s = parse_request(body)
    assert s.invalid_fields >= 1


def test_wrong_typed_sibling_does_not_hide_good_fields() -> None:
    s = parse_request({"site": {"page": 5, "domain": "example.com"}, "regs": {"gpp_sid": ["2", 6]}})
    assert s.keys[K.DOMAIN] == ["example.com"] and s.privacy.gpp_sid == (6,)


def test_zero_ifa_is_no_key() -> None:
    s = parse_request({"device": {"ifa": "00000000-0000-0000-0000-000000000000"}})
    assert K.IFA not in s.keys and s.ifa is None


@pytest.mark.parametrize(("host", "expected"), [
    ("news.example.co.uk", "example.co.uk"), ("example.com", "example.com"), ("co.uk", None), ("1.2.3.4", None),
])
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


def test_subdomain_adds_registrable_domain_key() -> None:
    s = parse_request({"site": {"page": "https://sport.news.example.co.uk/x"}})
    assert s.keys[K.DOMAIN] == ["sport.news.example.co.uk", "example.co.uk"]
