"""server/protocol.py against the real ``segment-server serve`` process (issue 25, item 9).

Slowloris headers, a ``Content-Length`` never sent and connections that say nothing are all closed
after the configured read timeouts while a probe keeps getting answers; past ``max_connections``
the connection that has waited longest is closed to make room — not the new one, and no 503.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from tests.server.live import LiveServer, live_server

pytestmark = pytest.mark.slow

BODY = orjson.dumps({"site": {"page": "https://example.com/sports/football"}})


@dataclass
class Attacker:
    """One hostile socket: what it sends first, whether it keeps trickling, what it got back."""

    kind: str
    sock: socket.socket
    trickle: bool = False
    received: bytes = b""
    closed: bool = False
    sent: int = field(default=0)

    def poke(self) -> None:
        if self.trickle and not self.closed:
            try:
                self.sock.send(f"x-slow-{self.sent}: 1\r\n".encode())
                self.sent += 1
            except OSError:
                self.closed = True

    def read(self) -> None:
        try:
            chunk = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.closed = True
            return
        if chunk:
            self.received += chunk
        else:
            self.closed = True


def _connect(port: int, first: bytes, kind: str, trickle: bool = False) -> Attacker:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        sock.sendall(first)
    sock.setblocking(False)
    return Attacker(kind, sock, trickle)


@pytest.fixture(scope="module")
def short_timeouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    limits = {"header_timeout_seconds": 1.0, "body_timeout_seconds": 1.0, "keep_alive_timeout_seconds": 1.0}
    with live_server(tmp_path_factory.mktemp("timeouts"), server=limits) as live:
        yield live


def test_slow_and_silent_connections_are_closed_while_a_probe_answers(short_timeouts: LiveServer) -> None:
    port = short_timeouts.port
    head = b"POST /rtd HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    attackers = [_connect(port, head, "slowloris", trickle=True) for _ in range(5)]
    attackers += [_connect(port, b"", "silent") for _ in range(3)]
    attackers += [_connect(port, head + b"content-length: 1000\r\n\r\n" + BODY[:10], "short body")
                  for _ in range(2)]
    complete = head + f"content-length: {len(BODY)}\r\n\r\n".encode() + BODY
    attackers += [_connect(port, complete + head, "slowloris after a request", trickle=True)
                  for _ in range(2)]
    probes: list[int] = []
    deadline = time.monotonic() + 30  # a cap for a loaded machine; each closes after ~1 s
    with httpx.Client(base_url=short_timeouts.base, timeout=10) as probe:
        while time.monotonic() < deadline and not all(a.closed for a in attackers):
            for attacker in attackers:
                attacker.poke()
            select.select([a.sock for a in attackers if not a.closed], [], [], 0.2)
            for attacker in attackers:
                attacker.read()
            probes.append(probe.post("/rtd", content=BODY).status_code)
    for attacker in attackers:
        attacker.sock.close()
    assert [a.kind for a in attackers if not a.closed] == []
    assert set(probes) == {200}
    for attacker in attackers:
        if attacker.kind == "silent":
            assert attacker.received == b""  # nothing was asked: nothing is answered
        elif attacker.kind == "slowloris after a request":  # answered, then timed out on the next one
            assert attacker.received.startswith(b"HTTP/1.1 200 OK\r\n"), attacker.received
            assert b"HTTP/1.1 408 Request Timeout\r\n" in attacker.received
        else:
            assert attacker.received.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), attacker.received
            assert b"connection: close" in attacker.received


def test_oversized_headers_get_431(short_timeouts: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", short_timeouts.port), timeout=10) as sock:
        sock.sendall(b"GET /segments?url=example.com HTTP/1.1\r\nhost: x\r\n")
        try:
            for i in range(100):
                sock.sendall(f"x-filler-{i}: {'a' * 1000}\r\n".encode())
        except OSError:
            pass  # the server may close before all of it is sent
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_keep_alive_connection_survives_between_requests(short_timeouts: LiveServer) -> None:
    with httpx.Client(base_url=short_timeouts.base, timeout=10) as client:
        for _ in range(3):
            assert client.post("/rtd", content=BODY).status_code == 200


def test_idle_kept_alive_connection_is_closed_after_its_timeout(short_timeouts: LiveServer) -> None:
    """The keep-alive timer is armed once per idle spell (server/protocol.py): a connection that
    keeps asking past the timeout stays open; one left idle for it is closed."""
    request = (b"POST /rtd HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: "
               + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    with socket.create_connection(("127.0.0.1", short_timeouts.port), timeout=5) as sock:
        for _ in range(6):  # 2.4 s of requests 0.4 s apart on a 1 s keep-alive timeout
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
            time.sleep(0.4)
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server once idle for the timeout
        assert 0.3 < time.monotonic() - started < 3.0


def test_past_max_connections_the_longest_waiting_is_closed(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A header timeout far beyond the test's waits: every close seen here is the cap's doing.
    limits = {"max_connections": 10, "header_timeout_seconds": 120.0}
    with live_server(tmp_path_factory.mktemp("cap"), server=limits) as live:
        idle = []
        for _ in range(15):
            idle.append(_connect(live.port, b"", "idle"))
            time.sleep(0.02)  # distinct arrival times: the oldest go first
        with httpx.Client(base_url=live.base, timeout=10) as probe:
            assert probe.post("/rtd", content=BODY).status_code == 200  # room is made, no 503
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(a.closed for a in idle[:6]):
            select.select([a.sock for a in idle if not a.closed], [], [], 0.2)
            for attacker in idle:
                attacker.read()
        closed = [a.closed for a in idle]
        for attacker in idle:
            attacker.sock.close()
    assert closed[:6] == [True] * 6  # 15 idle + the probe over a cap of 10: the six oldest
    assert closed[6:] == [False] * 9
