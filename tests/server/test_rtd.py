import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from segments.store import StoreWriter
from server.signals import CACHED_SIGNAL_LENGTH
from tests.helpers import load_json

WEB = {"site": {"page": "https://www.example.com/sports/football/match-report?utm=x"},
       "device": {"ip": "198.51.100.77", "geo": {"country": "usa", "zip": "10001"}}}


def rtd(client: TestClient, body: Any) -> dict[str, Any]:
    response = client.post("/rtd", content=orjson.dumps(body))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_contextual_keys_in_priority_order(client: TestClient) -> None:
    # url (deepest prefix first) → domain → geo → ip; each segment once.
    assert rtd(client, WEB) == {"segment_ids": ["football", "sports", "geo_nyc", "net_office"],
                                "deal_ids": ["D-SPORTS"]}


def test_user_level_keys_come_first(client: TestClient) -> None:
    body = {**WEB, "user": {"id": "AbcdEfgHijklmnoP", "ext": {"eids": [
        {"source": "liveramp.com", "uids": [{"id": "XY1"}]}]}}}
    assert rtd(client, body)["segment_ids"][:2] == ["ramp", "cars"]


def test_miss_is_200_with_empty_lists(client: TestClient) -> None:
    assert rtd(client, {"site": {"page": "https://nothing.test/"}}) == {"segment_ids": [], "deal_ids": []}
    assert rtd(client, {}) == {"segment_ids": [], "deal_ids": []}


@pytest.mark.parametrize("name", ["index_web_request.json", "index_app_request.json"])
def test_seed_samples_are_answered(client: TestClient, name: str) -> None:
    body = load_json(name)
    answer = rtd(client, body)
    expected = {"index_web_request.json": ["cars", "sports"], "index_app_request.json": ["cars"]}[name]
    assert answer["segment_ids"] == expected  # user.id rule + (web) example.com domain rule


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        pytest.param(b"{not json", 400, "malformed JSON", id="malformed"),
        pytest.param(b"", 400, "malformed JSON", id="empty"),
        pytest.param(b"[1, 2]", 400, "the body must be a JSON object", id="array"),
        pytest.param(b'"site"', 400, "the body must be a JSON object", id="string"),
        pytest.param(b"\xff\xfe", 400, "malformed JSON", id="not-utf8"),
    ],
)
def test_bad_bodies_get_a_json_error(client: TestClient, content: bytes, status: int, error: str) -> None:
    response = client.post("/rtd", content=content)
    assert response.status_code == status
    assert response.json()["error"].startswith(error)


def test_oversized_body_is_413(make_client: Any) -> None:
    client = make_client(server={"max_body_bytes": 1024})
    response = client.post("/rtd", content=b'{"x":"' + b"a" * 2000 + b'"}')
    assert response.status_code == 413 and response.json()["limit_bytes"] == 1024
    chunks = iter([b'{"x":"', b"a" * 2000, b'"}'])  # no Content-Length: counted while streaming
    assert client.post("/rtd", content=chunks).status_code == 413


def test_wrong_types_are_skipped_not_fatal(client: TestClient) -> None:
    body = {**WEB, "user": {"eids": "nope", "id": 5}, "regs": {"coppa": "yes"}, "device": {
        "ip": "198.51.100.77", "geo": {"country": "USA", "zip": 10001}, "ifa": ["x"]}}
    assert rtd(client, body)["segment_ids"] == ["football", "sports", "net_office"]


def test_get_is_405(client: TestClient) -> None:
    assert client.get("/rtd").status_code == 405


def test_coppa_allows_contextual_only_with_truncated_ip(client: TestClient) -> None:
    body = {**WEB, "regs": {"coppa": 1}, "user": {"id": "AbcdEfgHijklmnoP"},
            "device": {"ip": "198.51.100.77", "ifa": "AEBE52E7-03EE-455A-B3C4-E57283966239"}}
    answer = rtd(client, body)
    assert answer["segment_ids"] == ["football", "sports", "net_office"]  # ip matched via its /24 only


def test_us_privacy_opt_out_drops_user_level(client: TestClient) -> None:
    body = {**WEB, "regs": {"us_privacy": "1YYN"}, "user": {"id": "AbcdEfgHijklmnoP"}}
    assert "cars" not in rtd(client, body)["segment_ids"]
    body["regs"] = {"us_privacy": "1YNN"}
    assert rtd(client, body)["segment_ids"][0] == "cars"


def test_lmt_drops_ifa_only(client: TestClient) -> None:
    body = {"device": {"ifa": "aebe52e7-03ee-455a-b3c4-e57283966239", "lmt": 1},
            "user": {"id": "AbcdEfgHijklmnoP"}}
    assert rtd(client, body)["segment_ids"] == ["cars"]
    body["device"]["lmt"] = 0
    assert rtd(client, body)["segment_ids"] == ["cars", "ifa_gamers"]


def test_cap_at_500_drops_broad_keys_first(make_client: Any, data_dir: Path) -> None:
    from segments.taxonomy import Segment
    writer = StoreWriter(data_dir)
    writer.upsert_segments(Segment(f"s{i:03d}") for i in range(600))
    writer.upsert_memberships([("ip:198.51.100.0/24", {f"s{i:03d}": None for i in range(300, 600)}),
                               ("url:example.com/sports/football", {f"s{i:03d}": None for i in range(300)})])
    client = make_client()
    answer = rtd(client, WEB)
    assert len(answer["segment_ids"]) == 500
    assert answer["segment_ids"][:2] == ["football", "s000"]
    assert "sports" in answer["segment_ids"] and "geo_nyc" in answer["segment_ids"]
    assert "s599" not in answer["segment_ids"], "the broadest key (ip) loses its tail first"


def test_deleted_segment_is_not_returned(make_client: Any, data_dir: Path) -> None:
    StoreWriter(data_dir).delete_segment("geo_nyc")
    assert "geo_nyc" not in rtd(make_client(), WEB)["segment_ids"]


def test_responses_are_deterministic(client: TestClient) -> None:
    body = load_json("index_web_request.json")
    first = client.post("/rtd", content=json.dumps(body)).content
    assert all(client.post("/rtd", content=json.dumps(body)).content == first for _ in range(5))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
openrtb_like = st.fixed_dictionaries({}, optional={
    k: json_values | st.dictionaries(st.sampled_from(
        ["page", "domain", "ext", "eids", "id", "ip", "ifa", "geo", "lmt", "gdpr", "coppa", "us_privacy",
         "gpp", "gpp_sid", "gppSid", "consent", "bundle", "content", "os", "uids", "source"]),
        json_values, max_size=6)
    for k in ("site", "app", "device", "user", "regs", "imp")})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=openrtb_like)
def test_fuzzed_bodies_never_5xx(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/rtd", content=orjson.dumps(body))
    assert response.status_code == 200
    assert set(response.json()) == {"segment_ids", "deal_ids"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_never_5xx(client: TestClient, raw: bytes) -> None:
    assert client.post("/rtd", content=raw).status_code in (200, 400)


_KEY = st.tuples(st.sampled_from(["uid2", "url", "ip", "geo", "eid"]), st.text("ab:/", max_size=6))


@given(st.lists(_KEY, max_size=12), st.data())
def test_count_lookups_tallies_every_key_by_kind(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """Grouped or not, every key is one hit or one miss of its kind (the run shortcut loses nothing)."""
    from collections import Counter

    from server import rtd

    keys = [f"{kind}:{value}" for kind, value in pairs]
    hits = {key: ["s"] for key in data.draw(st.lists(st.sampled_from(keys), unique=True))} if keys else {}
    expected = Counter((key.partition(":")[0], "hit" if key in hits else "miss") for key in keys)
    tallies = {"hit": rtd._LOOKUP_HITS, "miss": rtd._LOOKUP_MISSES}
    before = {result: dict(tally.counts) for result, tally in tallies.items()}
    rtd.count_lookups(keys, hits)
    counted = Counter({(kind, result): n - before[result].get(kind, 0)
                       for result, tally in tallies.items() for kind, n in tally.counts.items()})
    assert +counted == expected


@pytest.mark.parametrize("consent", [
    pytest.param("C" * 2000, id="long-but-decodable-length"),
    pytest.param("C" * 9000, id="past-max_consent_length"),
])
def test_long_consent_is_decided_safely_and_not_remembered(client: TestClient, consent: str) -> None:
    body = {**WEB, "regs": {"gdpr": 1}, "user": {"id": "AbcdEfgHijklmnoP", "consent": consent}}
    assert "cars" not in rtd(client, body)["segment_ids"]  # user-level keys need a valid consent
    endpoint = client.app.hot[("POST", "/rtd")]  # type: ignore[attr-defined]
    assert all(len(p.consent or "") <= CACHED_SIGNAL_LENGTH for p in endpoint._decisions)


@given(st.lists(_KEY, max_size=12), st.data())
def test_lookups_tallied_by_runs_as_key_by_key(pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """``collect_keys``' runs give every kind its count: the same tallies as parsing each key."""
    from server import rtd
    from server.lookup import KeyRuns, collect_keys

    found: dict[str, list[str]] = {}
    for kind, value in pairs:
        found.setdefault(kind, []).append(value)
    runs: KeyRuns = []
    keys = collect_keys(found, frozenset(found), None, frozenset(), runs=runs)
    assert sum(count for _, count in runs) == len(keys)
    hits = {key: ["s"] for key in data.draw(st.lists(st.sampled_from(keys), unique=True))} if keys else {}
    tallies = (rtd._LOOKUP_HITS, rtd._LOOKUP_MISSES)

    def counted(*args: KeyRuns | None) -> list[dict[object, int]]:
        before = [dict(tally.counts) for tally in tallies]
        rtd.count_lookups(keys, hits, *args)
        return [{k: n - old.get(k, 0) for k, n in tally.counts.items() if n != old.get(k, 0)}
                for tally, old in zip(tallies, before, strict=True)]

    assert counted(runs) == counted()
