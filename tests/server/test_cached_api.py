from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from segments.store import StoreWriter
from tests.server.conftest import write_and_wait


@pytest.mark.parametrize(
    ("query", "segments", "cache"),
    [
        pytest.param("url=example.com%2Fsports%2Ffootball", ["football", "sports"], "max-age=600",
                     id="url-min-ttl"),
        pytest.param("url=https%3A%2F%2Fwww.example.com%2Fsports%2F", ["sports"], "max-age=3600",
                     id="url-normalised"),
        pytest.param("content_url=example.com%2Fsports", ["sports"], "max-age=3600", id="content-url"),
        pytest.param("bundle=com.kids.game", ["kids_apps"], "max-age=7200", id="bundle"),
        pytest.param("content_id=episode-42", ["football"], "max-age=600", id="content-id"),
        pytest.param("ip=198.51.100.9", ["net_office"], "max-age=86400", id="ip-default-ttl"),
        pytest.param("ifa=AEBE52E7-03EE-455A-B3C4-E57283966239", ["cars", "ifa_gamers"], "max-age=86400",
                     id="ifa"),
        pytest.param("country=USA&zip=10001", ["geo_nyc"], "max-age=86400", id="complex-geo"),
        pytest.param("url=example.com%2Fother&content_id=episode-42", ["football", "sports"], "max-age=600",
                     id="complex-url-content"),
        pytest.param("bundle=com.kids.game&content_id=episode-42", ["football", "kids_apps"], "max-age=600",
                     id="complex-bundle-content"),
    ],
)
def test_keys_and_cache_control(client: TestClient, query: str, segments: list[str], cache: str) -> None:
    response = client.get(f"/segments?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["segment_ids"] == segments
    assert response.headers["cache-control"] == cache


def test_miss_uses_negative_ttl(client: TestClient) -> None:
    response = client.get("/segments?url=nothing.test%2Fx")
    assert (response.status_code, response.json(), response.headers["cache-control"]) == (
        200, {"segment_ids": [], "deal_ids": []}, "max-age=3600")


@pytest.mark.parametrize("status", [204, 404])
def test_miss_status_is_configurable(make_client: Any, status: int) -> None:
    client = make_client(cached_api={"miss_status": status})
    response = client.get("/segments?url=nothing.test%2Fx")
    assert response.status_code == status


def test_max_age_capped_at_a_day(make_client: Any, data_dir: Path) -> None:
    from segments.taxonomy import Segment
    StoreWriter(data_dir).upsert_segments([Segment("kids_apps", "Kids", ttl_seconds=10 * 86400)])
    client = make_client(cached_api={"default_ttl_seconds": 999_999})
    assert client.get("/segments?bundle=com.kids.game").headers["cache-control"] == "max-age=86400"


def test_no_cache_while_classifying(client: TestClient, data_dir: Path) -> None:
    assert client.get("/segments?url=example.com%2Fnew").headers["cache-control"] == "no-cache"
    write_and_wait(client, lambda: StoreWriter(data_dir).set_classifying(["bundle:com.unknown"]))
    response = client.get("/segments?bundle=com.unknown")
    assert response.headers["cache-control"] == "no-cache" and response.json()["segment_ids"] == []


@pytest.mark.parametrize(
    ("query", "error"),
    [
        pytest.param("", "missing key parameter", id="missing"),
        pytest.param("page=x", "unknown query parameter 'page'", id="unknown"),
        pytest.param("url=a.com&url=b.com", "given more than once", id="repeated"),
        pytest.param("url=", "is empty", id="empty"),
        pytest.param("url=a.com&bundle=b", "exactly one key", id="two-singles"),
        pytest.param("country=USA", "exactly one key", id="half-complex"),
        pytest.param("ip=10.0.0.0%2F8", "not a valid ip", id="cidr-not-an-address"),
        pytest.param("ip=banana", "not a valid ip", id="bad-ip"),
        pytest.param("ifa=00000000-0000-0000-0000-000000000000", "not a valid ifa", id="zero-ifa"),
    ],
)
def test_bad_queries_list_what_is_accepted(client: TestClient, query: str, error: str) -> None:
    response = client.get(f"/segments?{query}")
    assert response.status_code == 400
    body = response.json()
    assert error in body["error"]
    assert body["accepted_parameters"] == ["bundle", "content_id", "content_url", "country", "ifa", "ip",
                                           "url", "zip"]
    assert "country+zip" in body["accepted_combinations"]


def test_parameter_names_are_configurable(make_client: Any) -> None:
    client = make_client(cached_api={"url_param": "page_url"})
    assert client.get("/segments?page_url=example.com%2Fsports").json()["segment_ids"] == ["sports"]
    assert client.get("/segments?url=example.com%2Fsports").status_code == 400


def test_post_is_405(client: TestClient) -> None:
    assert client.post("/segments?url=x").status_code == 405


@settings(max_examples=300)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=24)), max_size=8))
def test_query_pairs_reads_queries_as_parse_qsl_does(fields: list[tuple[str, str]]) -> None:
    from urllib.parse import parse_qsl, urlencode

    from server.cached_api import query_pairs

    for query in (urlencode(fields), "&".join(f"{n}={v}" for n, v in fields if "&" not in n + v and n + v)):
        assert query_pairs(query) == parse_qsl(query, keep_blank_values=True)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.sampled_from(["%", "%2", "%2F", "%2f", "%zz", "%e2%82%ac", "%E2%82", "%ff", "+",
                                           "%+1", "%-1", "% 1", "é", "€", "a"]), st.text(max_size=3)),
                max_size=8))
def test_unquote_plus_is_urllibs(parts: list[str]) -> None:
    from urllib.parse import unquote_plus as urllib_unquote_plus

    from server.cached_api import unquote_plus

    text = "".join(parts)
    assert unquote_plus(text) == urllib_unquote_plus(text)


@pytest.mark.parametrize(("query", "error"), [
    pytest.param("url=example.com%2F" + "p" * 2100, "'url' is not a valid url", id="url-past-2048"),
    pytest.param("content_url=example.com%2F" + "p" * 2100, "'content_url' is not a valid url",
                 id="content-url"),
    pytest.param("ip=" + "1" * 46, "'ip' is not a valid ip address", id="ip-past-45"),
])
def test_over_long_values_are_400_and_not_cached(client: TestClient, query: str, error: str) -> None:
    from server.cached_api import _cached_single_address
    from server.openrtb import _cached_url

    sizes = (_cached_url.cache_info().currsize, _cached_single_address.cache_info().currsize)
    response = client.get(f"/segments?{query}")
    assert response.status_code == 400 and error in response.json()["error"]
    assert response.headers["cache-control"] == "no-store"
    assert (_cached_url.cache_info().currsize, _cached_single_address.cache_info().currsize) == sizes
