from typing import Any

import pytest

from segments import keys as K
from server.openrtb import (
    MAX_HOST_LENGTH,
    OVERSIZE,
    _cached_registrable,
    _cached_url,
    parse_request,
    registrable_domain,
    site_context,
)
from tests.helpers import load_json


def test_seed_web_sample() -> None:
    s = parse_request(load_json("index_web_request.json"))
    assert s.keys[K.URL] == ["example.com/section", "example.com/content-link"]
    assert s.keys[K.DOMAIN] == ["example.com"]
    assert s.keys[K.GEO] == ["USA:55555"]
    assert s.keys[K.USER_ID] == ["AbcdEfgHijklmnoP"]
    assert s.keys[K.EID] == ["id_provider.com:" + "Abcdefgh1234567" * 5,
                             "provider_id.org:123456-abcde-123456-abcde-123456"]
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
        pytest.param({"user": {"eids": [5, {"source": 7}, {"source": "a.com", "uids": "x"}]}},
                     id="eids-items-wrong"),
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
    ("news.example.co.uk", "example.co.uk"), ("example.com", "example.com"), ("co.uk", None),
    ("1.2.3.4", None),
])
def test_registrable_domain(host: str, expected: str | None) -> None:
    assert registrable_domain(host) == expected


def test_subdomain_adds_registrable_domain_key() -> None:
    s = parse_request({"site": {"page": "https://sport.news.example.co.uk/x"}})
    assert s.keys[K.DOMAIN] == ["sport.news.example.co.uk", "example.co.uk"]


# -- field length caps: an over-long value is skipped, counted, and never reaches a cache --------

LONG_URL = "https://example.com/" + "p" * 2100
LONG_HOST = "h" * 250 + ".example.com"


@pytest.mark.parametrize(("body", "kind"), [
    pytest.param({"site": {"page": LONG_URL}}, K.URL, id="site.page"),
    pytest.param({"site": {"domain": LONG_HOST}}, K.DOMAIN, id="site.domain"),
    pytest.param({"site": {"content": {"url": LONG_URL}}}, K.URL, id="site.content.url"),
    pytest.param({"app": {"domain": LONG_HOST}}, K.DOMAIN, id="app.domain"),
    pytest.param({"device": {"geo": {"country": "USA", "zip": "1" * 17}}}, K.GEO, id="geo.zip"),
    pytest.param({"device": {"geo": {"country": "USAX", "zip": "10001"}}}, K.GEO, id="geo.country"),
    pytest.param({"user": {"eids": [{"source": "s" * 254, "uids": [{"id": "x"}]}]}}, K.EID, id="eid.source"),
])
def test_over_long_fields_are_skipped_and_counted(body: dict[str, Any], kind: str) -> None:
    s = parse_request(body)
    assert kind not in s.keys
    assert s.invalid_fields == 1


@pytest.mark.parametrize("ip", ["1" * 46, "2001:db8::" + "1" * 40])
def test_over_long_ip_is_skipped(ip: str) -> None:
    s = parse_request({"device": {"ip": ip}})
    assert s.ip is None and s.invalid_fields == 1


def test_longest_valid_values_are_kept() -> None:
    page = "https://example.com/" + "p" * (2048 - len("https://example.com/"))
    ip = "0000:0000:0000:0000:0000:ffff:192.168.100.228"
    s = parse_request({"site": {"page": page},
                       "device": {"ip": ip, "geo": {"country": "USA", "zip": "1" * 16}}})
    assert s.page_url == page.removeprefix("https://") and s.ip is not None and s.keys[K.GEO]
    assert s.invalid_fields == 0


@pytest.mark.parametrize(("body", "field"), [
    pytest.param({"user": {"consent": "C" * 8193}}, "consent", id="consent"),
    pytest.param({"user": {"ext": {"consent": "C" * 8193}}}, "consent", id="consent-2.5"),
    pytest.param({"regs": {"gpp": "D" * 8193}}, "gpp", id="gpp"),
    pytest.param({"regs": {"us_privacy": "1YNN" * 5}}, "us_privacy", id="us_privacy"),
])
def test_over_long_privacy_strings_read_as_malformed_not_absent(body: dict[str, Any], field: str) -> None:
    # Absent would mean "no restriction" for us_privacy; OVERSIZE decodes as nothing, the safe reading.
    s = parse_request(body)
    assert getattr(s.privacy, field) == OVERSIZE
    assert s.invalid_fields == 1


def test_caches_remember_only_short_values() -> None:
    def sizes() -> tuple[int, int, int]:
        return (site_context.cache_info().currsize, _cached_url.cache_info().currsize,
                _cached_registrable.cache_info().currsize)

    parse_request({"site": {"page": "https://cached.example.com/", "content": {"url": "https://cached.example.com/"}}})
    before = sizes()
    for i in range(50):
        page = "https://cached.example.com/" + f"{i}" * 300  # valid, longer than CACHED_KEY_LENGTH
        s = parse_request({"site": {"page": page, "content": {"url": page}}})
        assert s.page_url and s.keys[K.URL] and s.keys[K.DOMAIN] == ["cached.example.com", "example.com"]
    assert registrable_domain("a" * 300 + ".com") is None  # longer than DNS allows: no host
    assert sizes() == before
    assert len(LONG_HOST) > MAX_HOST_LENGTH
