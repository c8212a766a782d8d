"""``POST /rtd`` under random bodies built from the OpenRTB shape, against the real app.

The strategies produce what reaches the decoders: eids with *real* UID2 tokens (minted with the
keys the fake operator serves, for users in the store and for strangers), EUID/Xandr/other eids,
real and broken TCF/USP/GPP strings, IPs, IFAs, pages that hit and miss, in 2.5 and 2.6 locations
— and, anywhere, a value of the wrong type. Every case asserts the exact status (200 / 400 / 413)
and the response shape, and where the outcome is known from the body alone, the segments:
COPPA and GPC keep user-level segments out; an unrestricted request with a live token for a stored
user gets that user's segment.

Profiles (tests/conftest.py): ``ci`` derandomized for ``make test``; ``deep`` (10x) for ``make
reliability``.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from server.app import create_app
from tests.helpers import TAXONOMY, build_data_dir, settings_for
from tests.server.uid2_app import token_for, uid2_services

STORED_RAW = "AdNJ41yOVH7B5hbGTVN1w0oUEZmJ9h9PPvM+8sTpN4k="
STRANGER_RAW = base64.b64encode(bytes(range(100, 132))).decode()
USER_LEVEL = {"uid2_auto", "ramp", "ifa_gamers"}
MEMBERS = [
    {"kind": "uid2", "key": STORED_RAW, "segments": ["uid2_auto"]},
    {"kind": "eid", "key": "liveramp.com:XY1000", "segments": ["ramp"]},
    {"kind": "ifa", "key": "6D92078A-8246-4BA4-AE5B-76104861E7DC", "segments": ["ifa_gamers"]},
    {"kind": "url", "key": "example.com/sports", "segments": ["sports"]},
    {"kind": "url", "key": "example.com/sports/football", "segments": ["football"]},
    {"kind": "domain", "key": "kids.example", "segments": ["kids_apps"]},
    {"kind": "ip", "key": "198.51.100.0/24", "segments": ["net_office"]},
    {"kind": "geo", "key": "USA:10001", "segments": ["geo_nyc"]},
]
DEALS = {str(row["id"]): set(row.get("deal_ids", [])) for row in TAXONOMY}  # type: ignore[call-overload]
MAX_BODY = 65536
FUZZ = settings(deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    data_dir = build_data_dir(tmp, MEMBERS)
    settings_ = settings_for(data_dir)
    svc, refresher = uid2_services(data_dir, settings_)
    with TestClient(create_app(settings_, services=svc)) as client:
        now = time.time()
        tokens = {name: token_for(refresher, raw, at)
                  for name, raw, at in (("stored", STORED_RAW, now), ("stranger", STRANGER_RAW, now))}
        assert all(tokens.values())
        yield client, tokens


# -- the OpenRTB shape ----------------------------------------------------------------------
i64 = st.integers(-(2**63), 2**63 - 1)  # what JSON encoders (orjson) can write
wrong = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                  st.text(max_size=8), st.lists(i64, max_size=2),
                  st.dictionaries(st.text(max_size=3), i64, max_size=2))


def maybe_wrong(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type; sometimes anything else (skipped and counted, never an error)."""
    return st.one_of(right, right, right, wrong)


TOKEN_NAMES = st.sampled_from(["stored", "stranger", "garbage"])
eid = st.fixed_dictionaries({
    "source": maybe_wrong(st.sampled_from(["uidapi.com", "euid.eu", "adnxs.com", "liveramp.com",
                                           "x.example"])),
    "uids": maybe_wrong(st.lists(st.fixed_dictionaries({"id": maybe_wrong(st.one_of(
        TOKEN_NAMES.map(lambda n: f"<token:{n}>"), st.sampled_from(["XY1000", "12345", ""]),
        st.text(max_size=12)))},
        optional={"atype": maybe_wrong(st.integers(1, 3))}), max_size=3)),
})
consent = st.sampled_from([
    "COv_eg6Ov_eg6AOADBENAaCgAP_AAH_AACiQAVEUQQoAIQAqIoghAAQgAA.YAAAAAAAAAAAAAAAAAA",
    "CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA", "C", "not-tcf", ""])
regs = st.fixed_dictionaries({}, optional={
    "coppa": maybe_wrong(st.sampled_from([0, 1])),
    "gdpr": maybe_wrong(st.sampled_from([0, 1])),
    "us_privacy": maybe_wrong(st.sampled_from(["1YNN", "1YYN", "1---", "1NYN", "bogus"])),
    "gpp": maybe_wrong(st.sampled_from(["DBABTA~1YYN", "DBABTA~1YNN", "DBABLA~BAAAAAABEQA.QA", "DBA", "~~"])),
    "gpp_sid": maybe_wrong(st.lists(st.integers(0, 24), max_size=3)),
    "ext": maybe_wrong(st.fixed_dictionaries({}, optional={
        "gdpr": maybe_wrong(st.sampled_from([0, 1])), "us_privacy": st.sampled_from(["1YNN", "1YYN"]),
        "gpc": maybe_wrong(st.sampled_from([0, 1, "1"]))})),
})
user = st.fixed_dictionaries({}, optional={
    "id": maybe_wrong(st.text(max_size=12)),
    "consent": maybe_wrong(consent),
    "eids": maybe_wrong(st.lists(eid, max_size=3)),
    "ext": maybe_wrong(st.fixed_dictionaries({}, optional={"eids": maybe_wrong(st.lists(eid, max_size=3)),
                                                            "consent": maybe_wrong(consent)})),
})
device = st.fixed_dictionaries({}, optional={
    "ip": maybe_wrong(st.sampled_from(["198.51.100.7", "203.0.113.9", "100.00.000.000", "::1",
                                       "2001:db8::1", "x"])),
    "ifa": maybe_wrong(st.sampled_from(["6D92078A-8246-4BA4-AE5B-76104861E7DC",
                                        "00000000-0000-0000-0000-000000000000"])),
    "os": maybe_wrong(st.sampled_from(["ios", "android", "iOS"])),
    "lmt": maybe_wrong(st.sampled_from([0, 1])),
    "geo": maybe_wrong(st.fixed_dictionaries({}, optional={
        "country": maybe_wrong(st.sampled_from(["USA", "DEU"])),
        "zip": maybe_wrong(st.sampled_from(["10001", "99999"]))})),
})
page = st.sampled_from(["https://example.com/sports/football/x", "https://example.com/sports", "http://kids.example/",
                        "https://nomatch.example/", "not a url", ""])
site = st.fixed_dictionaries({}, optional={
    "page": maybe_wrong(page), "domain": maybe_wrong(st.sampled_from(["example.com", "kids.example"])),
    "content": maybe_wrong(st.fixed_dictionaries({}, optional={
        "url": maybe_wrong(page), "id": maybe_wrong(st.text(max_size=6))})),
})
app_ = st.fixed_dictionaries({}, optional={"bundle": maybe_wrong(st.text(max_size=10)),
                                           "domain": maybe_wrong(st.sampled_from(["kids.example"]))})
bid_request = st.fixed_dictionaries({}, optional={
    "id": maybe_wrong(st.text(max_size=8)), "site": maybe_wrong(site), "app": maybe_wrong(app_),
    "device": maybe_wrong(device), "user": maybe_wrong(user), "regs": maybe_wrong(regs),
    "imp": maybe_wrong(st.lists(st.fixed_dictionaries({"id": st.just("1")}), max_size=2)),
})


def with_tokens(body: dict[str, Any], tokens: dict[str, str]) -> bytes:
    raw = orjson.dumps(body).decode()
    for name, token in tokens.items():
        raw = raw.replace(f"<token:{name}>", token)
    return raw.replace("<token:garbage>", "A4AAAAB" + "x" * 60).encode()


def assert_answer_shape(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"segment_ids", "deal_ids"}
    ids, deals = body["segment_ids"], body["deal_ids"]
    assert all(isinstance(s, str) for s in ids + deals)
    assert len(ids) == len(set(ids)) <= 500 and set(ids) <= set(DEALS)
    assert len(deals) == len(set(deals)) and set(deals) == set().union(*(DEALS[s] for s in ids))
    return list(ids)


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


@FUZZ
@given(body=bid_request)
def test_openrtb_shaped_bodies(app: tuple[TestClient, dict[str, str]], body: dict[str, Any]) -> None:
    client, tokens = app
    ids = assert_answer_shape(client.post("/rtd", content=with_tokens(body, tokens)))
    if _get(body, "regs", "coppa") == 1 or _get(body, "regs", "ext", "gpc") == 1:
        assert not USER_LEVEL & set(ids), ids


@FUZZ
@given(body=bid_request, gpc=st.booleans())
def test_live_token_for_a_stored_user_matches_unless_privacy_forbids(
        app: tuple[TestClient, dict[str, str]], body: dict[str, Any], gpc: bool) -> None:
    client, tokens = app
    body = {k: v for k, v in body.items() if k not in ("regs", "user")}
    body["user"] = {"eids": [{"source": "uidapi.com", "uids": [{"id": "<token:stored>"}]}]}
    headers = {"sec-gpc": "1"} if gpc else {}
    ids = assert_answer_shape(client.post("/rtd", content=with_tokens(body, tokens), headers=headers))
    assert ("uid2_auto" in ids) is (not gpc), ids
    assert ids.index("uid2_auto") == 0 if not gpc else True  # uid2 is the highest-priority key


@FUZZ
@given(doc=st.one_of(st.lists(i64, max_size=3), i64, st.text(max_size=10), st.none(),
                     st.booleans()))
def test_json_that_is_not_an_object_is_400(app: tuple[TestClient, dict[str, str]], doc: Any) -> None:
    response = app[0].post("/rtd", content=orjson.dumps(doc))
    assert response.status_code == 400 and isinstance(response.json().get("error"), str)


@FUZZ
@given(body=bid_request, cut=st.integers(1, 40))
def test_truncated_json_is_400(app: tuple[TestClient, dict[str, str]], body: dict[str, Any],
                               cut: int) -> None:
    raw = with_tokens(body, app[1])
    response = app[0].post("/rtd", content=raw[:-cut] if len(raw) > cut else b"{")
    assert response.status_code == 400 and isinstance(response.json().get("error"), str)


@FUZZ
@given(body=bid_request, extra=st.integers(1, 4096))
def test_over_max_body_is_413_and_at_the_limit_is_200(app: tuple[TestClient, dict[str, str]],
                                                       body: dict[str, Any], extra: int) -> None:
    raw = with_tokens(body, app[1])
    pad = MAX_BODY - len(raw) - len(b',"pad":""')
    if pad < 0 or raw == b"{}":
        raw, pad = b'{"x":1}', MAX_BODY - len(b'{"x":1}') - len(b',"pad":""')
    at_limit = raw[:-1] + b',"pad":"' + b"a" * pad + b'"}'
    assert len(at_limit) == MAX_BODY
    assert_answer_shape(app[0].post("/rtd", content=at_limit))
    over = at_limit[:-2] + b"a" * extra + b'"}'
    response = app[0].post("/rtd", content=over)
    assert response.status_code == 413 and response.json()["limit_bytes"] == MAX_BODY


def test_random_seeded_bytes_are_400(app: tuple[TestClient, dict[str, str]]) -> None:
    for seed in range(50):
        raw = random.Random(seed).randbytes(1 + seed * 7)
        if raw.lstrip()[:1] in (b"{", b"[", b'"') or raw.strip().isdigit():
            continue
        assert app[0].post("/rtd", content=raw).status_code == 400
