"""server/direct.py against the real ``segment-server serve`` process: the direct path answers
exactly what the ASGI path answers, and hands back every request it does not take.

Raw sockets, so the bytes on the wire are what is compared. ``/rt%64`` is the same route reached
through uvicorn's ASGI path (the direct path matches the raw path only); ``Content-Encoding:
identity`` is taken by the direct path and handed back to ASGI once complete (a promotion).
"""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httptools
import orjson
import pytest

from tests.server.live import LiveServer, live_server

pytestmark = pytest.mark.slow

WEB = (Path(__file__).parent.parent / "data" / "index_web_request.json").read_bytes()
MAX_BODY = 65536  # the default: bodies past the 32 KiB header cap must pass


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""


class Responses:
    """httptools callbacks for a stream of responses: one :class:`Response` per message."""

    def __init__(self) -> None:
        self.done: list[Response] = []
        self.current = Response()
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self.current = Response()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.current.status = self.parser.get_status_code()
        self.done.append(self.current)


def exchange(port: int, raw: bytes, count: int = 1) -> list[Response]:
    """Send ``raw`` on one connection and read ``count`` responses."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        return read(sock, count)


def read(sock: socket.socket, count: int) -> list[Response]:
    """The next ``count`` responses on ``sock`` (several may share one segment, so one parser)."""
    stream = Responses()
    while len(stream.done) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        stream.parser.feed_data(chunk)
    return stream.done


def post(body: bytes, path: bytes = b"/rtd", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (b"POST " + path + b" HTTP/" + version + b"\r\nhost: x\r\ncontent-type: application/json\r\n"
            + extra + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("direct"), server={"max_body_bytes": MAX_BODY}) as server:
        yield server


def comparable(response: Response) -> tuple[int, dict[bytes, bytes], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != b"date"}
    return response.status, headers, response.body


@pytest.mark.parametrize("body", [WEB, b"{}", b"{not json", b"[1]", b'{"site": {"page": 7}}'],
                         ids=["index web request", "empty", "malformed", "not an object", "wrong type"])
def test_direct_answer_is_the_asgi_answer(live: LiveServer, body: bytes) -> None:
    direct, = exchange(live.port, post(body))
    asgi, = exchange(live.port, post(body, path=b"/rt%64"))
    promoted, = exchange(live.port, post(body, extra=b"content-encoding: identity\r\n"))
    assert comparable(direct) == comparable(asgi) == comparable(promoted)
    assert direct.status in (200, 400)
    assert direct.headers[b"content-type"] == b"application/json"
    assert int(direct.headers[b"content-length"]) == len(direct.body)


def test_segments_direct_answer_is_the_asgi_answer(live: LiveServer) -> None:
    for query in (b"url=example.com%2Fsports%2Ffootball", b"nope=1", b""):
        request = b"GET /segments?" + query + b" HTTP/1.1\r\nhost: x\r\n\r\n"
        direct, = exchange(live.port, request)
        asgi, = exchange(live.port, request.replace(b"/segments", b"/segment%73"))
        assert comparable(direct) == comparable(asgi)
        assert b"cache-control" in direct.headers


def test_pipelined_requests_are_answered_in_order(live: LiveServer) -> None:
    health = b"GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n"
    sent = post(WEB) + health + post(b"{bad") + post(WEB, path=b"/rt%64") + post(WEB)
    answers = exchange(live.port, sent, 5)
    assert [a.status for a in answers] == [200, 200, 400, 200, 200]
    assert answers[0].body == answers[3].body == answers[4].body
    assert b"segment_ids" not in answers[1].body


def test_gzip_body_is_handed_to_the_asgi_path(live: LiveServer) -> None:
    plain, = exchange(live.port, post(WEB))
    zipped, = exchange(live.port, post(gzip.compress(WEB), extra=b"content-encoding: gzip\r\n"))
    assert (zipped.status, zipped.body) == (200, plain.body)


def test_oversized_bodies_get_413_declared_or_chunked(live: LiveServer) -> None:
    big = b'{"x": "' + b"a" * MAX_BODY + b'"}'
    declared, = exchange(live.port, post(big))
    chunked_request = (b"POST /rtd HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                       + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:1000], big[1000:]))
                       + b"0\r\n\r\n")
    chunked, = exchange(live.port, chunked_request)
    for answer in (declared, chunked):
        assert answer.status == 413
        assert orjson.loads(answer.body)["limit_bytes"] == MAX_BODY


def test_chunked_body_within_the_limit_is_answered_directly(live: LiveServer) -> None:
    plain, = exchange(live.port, post(WEB))
    parts = (WEB[:100], WEB[100:])
    chunked, = exchange(live.port, b"POST /rtd HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                        + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n")
    assert (chunked.status, chunked.body) == (200, plain.body)


def test_large_bodies_in_pieces_on_one_connection(live: LiveServer) -> None:
    """A body's last bytes arrive with the answer written in the same chunk: they are not the
    next request's headers (a 40 KB body once tripped the 32 KiB header cap, 431)."""
    big = orjson.dumps({"site": {"page": "https://example.com/" + "a" * 2000}, "ext": {"pad": "p" * 40_000}})
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        for _ in range(3):
            raw = post(big)
            sock.sendall(raw[:500])  # the headers and a little of the body: the server takes these first
            time.sleep(0.05)
            sock.sendall(raw[500:])  # then ~40 KB that completes the request in one chunk
            answer, = read(sock, 1)
            assert answer.status == 200, answer.body


def test_http_1_0_gets_connection_close(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(post(WEB, version=b"1.0"))
        answer, = read(sock, 1)
        assert answer.status == 200
        assert answer.headers[b"connection"] == b"close"
        assert sock.recv(1) == b""  # the server closed it


def test_expect_100_continue_goes_the_asgi_way(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        head, _, body = post(WEB, extra=b"expect: 100-continue\r\n").partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        answer, = read(sock, 1)
        assert answer.status == 200


def test_a_body_split_across_packets_is_answered(live: LiveServer) -> None:
    plain, = exchange(live.port, post(WEB))
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        raw = post(WEB)
        sock.sendall(raw[:50])
        sock.sendall(raw[50:200])
        sock.sendall(raw[200:])
        answer, = read(sock, 1)
    assert (answer.status, answer.body) == (200, plain.body)


def test_refusals_are_the_same_on_both_paths(tmp_path: Path) -> None:
    with live_server(tmp_path, auth={"rtd_enabled": True, "segments_enabled": True}) as server:
        for request in (post(WEB), b"GET /segments?url=example.com HTTP/1.1\r\nhost: x\r\n\r\n"):
            direct, = exchange(server.port, request)
            via_asgi = request.replace(b"/rtd", b"/rt%64").replace(b"/segments", b"/segment%73")
            asgi, = exchange(server.port, via_asgi)
            assert direct.status == asgi.status == 401
            assert direct.headers[b"www-authenticate"] == asgi.headers[b"www-authenticate"]
            assert direct.body == asgi.body
