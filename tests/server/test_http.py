"""server/http.py: one Authorization rule, Content-Encoding decoded with a bound or refused —
unit-tested here, then against the real ``segment-server serve`` process (issue 25, items 10, 11)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import httpx
import orjson
import pytest

from server.http import (
    BadRequest,
    BodyTooLarge,
    UnsupportedEncoding,
    authorization,
    check_repeats,
    decode_body,
)
from tests.server.live import LiveServer, live_server

DOC = {"site": {"page": "https://example.com/sports/football"}, "device": {"ip": "198.51.100.7"}}
BODY = orjson.dumps(DOC)
LIMIT = 65536


@pytest.mark.parametrize(("headers", "expected"), [
    pytest.param([], None, id="absent"),
    pytest.param([(b"authorization", b"Bearer a")], "Bearer a", id="one"),
    pytest.param([(b"accept", b"*/*"), (b"authorization", b"")], None, id="empty"),
])
def test_authorization(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    assert authorization(headers) == expected


def test_two_authorization_headers_are_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="more than one Authorization"):
        authorization([(b"authorization", b"Bearer a"), (b"accept", b"*/*"), (b"authorization", b"Bearer a")])
    with pytest.raises(BadRequest):
        check_repeats([(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")])
    with pytest.raises(UnsupportedEncoding):
        check_repeats([(b"content-encoding", b"gzip"), (b"content-encoding", b"gzip")])
    check_repeats([(b"accept", b"a"), (b"accept", b"b")])  # other repeats are not ours to judge


@pytest.mark.parametrize(("encoding", "raw", "expected"), [
    pytest.param(b"identity", BODY, BODY, id="identity"),
    pytest.param(b"gzip", gzip.compress(BODY), BODY, id="gzip"),
    pytest.param(b" GZip ", gzip.compress(BODY), BODY, id="gzip-case-and-spaces"),
    pytest.param(b"x-gzip", gzip.compress(BODY), BODY, id="x-gzip-alias"),
    pytest.param(b"gzip", gzip.compress(b"x" * LIMIT), b"x" * LIMIT, id="exactly-the-limit"),
])
def test_decode_body(encoding: bytes, raw: bytes, expected: bytes) -> None:
    assert decode_body(raw, encoding, LIMIT) == expected


@pytest.mark.parametrize(("encoding", "raw", "error"), [
    pytest.param(b"gzip", gzip.compress(b"x" * (LIMIT + 1)), BodyTooLarge, id="one-byte-over"),
    pytest.param(b"gzip", gzip.compress(b"\0" * 50_000_000), BodyTooLarge, id="zip-bomb"),
    pytest.param(b"gzip", gzip.compress(BODY)[:-12], BadRequest, id="truncated"),
    pytest.param(b"gzip", BODY, BadRequest, id="not-gzip"),
    pytest.param(b"gzip", gzip.compress(BODY) + gzip.compress(BODY), BadRequest, id="two-members"),
    pytest.param(b"deflate", zlib.compress(BODY), UnsupportedEncoding, id="deflate"),
    pytest.param(b"br", BODY, UnsupportedEncoding, id="br"),
    pytest.param(b"gzip, gzip", BODY, UnsupportedEncoding, id="list-of-codings"),
    pytest.param(b"compress", BODY, UnsupportedEncoding, id="compress"),
])
def test_decode_body_refuses(encoding: bytes, raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_body(raw, encoding, LIMIT)


# -- against the real process --------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("http")) as live:
        yield live


@pytest.mark.slow
@pytest.mark.parametrize(("encoding", "body", "status"), [
    pytest.param(None, BODY, 200, id="plain"),
    pytest.param("gzip", gzip.compress(BODY), 200, id="gzip"),
    pytest.param("identity", BODY, 200, id="identity"),
    pytest.param("gzip", gzip.compress(b"\0" * 20_000_000), 413, id="zip-bomb"),
    pytest.param("gzip", BODY, 400, id="gzip-header-plain-body"),
    pytest.param("deflate", zlib.compress(BODY), 415, id="deflate"),
    pytest.param("br", BODY, 415, id="unknown"),
    pytest.param("gzip, br", BODY, 415, id="list"),
])
def test_rtd_content_encoding(server: LiveServer, encoding: str | None, body: bytes, status: int) -> None:
    headers = {"content-type": "application/json"}
    if encoding is not None:
        headers["content-encoding"] = encoding
    response = httpx.post(server.base + "/rtd", content=body, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    if status == 200:
        plain = httpx.post(server.base + "/rtd", content=BODY, timeout=10)
        assert response.json() == plain.json()
    if status == 415:
        assert response.headers["accept-encoding"] == "gzip"
        assert "unsupported Content-Encoding" in response.json()["error"]
    if status == 413:
        assert response.json()["limit_bytes"] == LIMIT


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), [
    pytest.param("POST", "/rtd", id="rtd"),
    pytest.param("GET", "/segments?url=example.com/sports", id="segments"),
])
def test_two_authorization_headers_answer_400(server: LiveServer, method: str, path: str) -> None:
    one = [("authorization", "Bearer a")]
    two = [("authorization", "Bearer a"), ("authorization", "Bearer b")]
    with httpx.Client(base_url=server.base, timeout=10) as client:
        content = BODY if method == "POST" else None
        assert client.request(method, path, content=content, headers=one).status_code == 200
        response = client.request(method, path, content=BODY if method == "POST" else None, headers=two)
    assert response.status_code == 400
    assert response.json() == {"error": "more than one Authorization header"}

