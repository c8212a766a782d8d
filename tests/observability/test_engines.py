"""Both ``[server] engine`` values, against the real ``segment-server serve`` process.

For uvicorn and granian, with the default one worker and with ``--workers 2``: ``/metrics`` is
non-empty and counts exactly what was sent, the worker gauges say how many workers are alive,
the Xandr mirror sender's families are exposed, and SIGTERM ends the run cleanly (exit code, run
directory gone, no traceback). granian's own hostile-client settings are checked on the wire.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.observability import serving

pytestmark = pytest.mark.slow

IP4 = "203.0.113.77"
N = 24
AUTH_OFF = {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False}
CASES = [pytest.param((engine, workers), id=f"{engine}-{workers}w")
         for engine in ("uvicorn", "granian") for workers in (1, 2)]


@pytest.fixture(scope="module", params=CASES)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Server]:
    engine, workers = request.param
    tmp = tmp_path_factory.mktemp(f"{engine}-{workers}w")
    config, _, port = serving.prepare(tmp, server={"engine": engine, "workers": workers,
                                                   "header_timeout_seconds": 1.0}, auth=AUTH_OFF)
    srv = serving.start(tmp, config, port)  # no --workers flag: the config file decides, as in production
    srv.extra.update(engine=engine, workers=workers)
    try:
        serving.wait_for(lambda: httpx.get(srv.base + "/health/ready", timeout=2).status_code == 200, "ready")
        yield srv
    finally:
        srv.stop()


def _send(base: str, n: int) -> None:
    def call(_: int) -> int:  # fresh connections, so with two workers both get some
        return httpx.get(base + "/segments", params={"ip": IP4}, headers={"connection": "close"},
                         timeout=10).status_code

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(call, range(n))) == {200}


def test_metrics_count_exactly_and_show_the_workers(server: serving.Server) -> None:
    workers = server.extra["workers"]
    name = "segserver_requests_total"
    serving.wait_for(lambda: serving.total(serving.scrape(server.base), "segserver_workers_alive") == workers,
                     f"{workers} live workers on /metrics")
    before = serving.scrape(server.base)
    assert before, "an empty /metrics"
    _send(server.base, N)

    def delta() -> float:
        now = serving.scrape(server.base)
        return (serving.total(now, name, endpoint="segments", status="200")
                - serving.total(before, name, endpoint="segments", status="200"))

    serving.wait_for(lambda: delta() >= N, f"{N} /segments requests on /metrics")
    time.sleep(1.2)  # one more flush round: nothing may be counted twice
    assert delta() == N
    samples = serving.scrape(server.base)
    assert serving.total(samples, "segserver_worker_starts_total") == workers
    serving.wait_for(lambda: serving.total(serving.scrape(server.base), "segserver_worker_requests") >= N,
                     "requests per worker")
    text = httpx.get(server.base + "/metrics", timeout=5).text
    per_worker = [line for line in text.splitlines() if line.startswith("segserver_worker_requests")]
    assert len(per_worker) == workers, per_worker
    for family in ("segserver_mirror_sent_total", "segserver_mirror_outbox_depth",
                   "segserver_mirror_retried_total", "segserver_mirror_dead_lettered_total"):
        assert any(line.startswith(family + " ") or line.startswith(family + "{")
                   for line in text.splitlines()), family  # a sample, not just a declaration
    assert 'segserver_mirror_dead_lettered_total{reason="empty_user_id"} 0.0' in text


def test_sigterm_drains_and_cleans_up(server: serving.Server) -> None:
    """A request in flight when SIGTERM arrives is still answered; then the run ends cleanly."""
    runs = list((server.data_dir / "metrics").glob("run-*"))
    assert len(runs) == (server.extra["workers"] > 1)
    body = b'{"site": {"page": "https://example.com/"}}'
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /rtd HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:5])
        time.sleep(0.3)  # the headers are in: this request is in flight
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[5:])
        sock.settimeout(15)
        assert sock.recv(64).startswith(b"HTTP/1.1 200"), "the in-flight request was dropped"
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it shut down on
    assert not [run for run in runs if run.exists()]
    for line in server.lines():
        assert isinstance(json.loads(line), dict), line
    assert "Traceback" not in server.output()


@pytest.fixture(scope="module")
def granian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Server]:
    tmp = tmp_path_factory.mktemp("granian-guard")
    config, _, port = serving.prepare(tmp, server={"engine": "granian", "header_timeout_seconds": 1.0,
                                                   "body_timeout_seconds": 1.0}, auth=AUTH_OFF)
    srv = serving.start(tmp, config, port)
    try:
        yield srv
    finally:
        srv.stop()


def _closed_by_server(sock: socket.socket, deadline_s: float = 15.0) -> bytes:
    """Read until the server closes the connection; what it sent before closing."""
    sock.settimeout(deadline_s)
    got = b""
    while chunk := sock.recv(4096):
        got += chunk
    return got


def test_granian_closes_a_connection_whose_headers_never_complete(granian: serving.Server) -> None:
    with socket.create_connection(("127.0.0.1", granian.port)) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # slowloris: the blank line never comes
        _closed_by_server(sock)  # header_read_timeout (1 s here); the cap is for a stuck test only


def test_granian_answers_408_to_a_body_that_never_completes(granian: serving.Server) -> None:
    """No granian setting for it: server.serving.body_deadline does what uvicorn's guard does."""
    with socket.create_connection(("127.0.0.1", granian.port)) as sock:
        sock.sendall(b"POST /rtd HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
        answer = _closed_by_server(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert httpx.post(granian.base + "/rtd", content=b"{}", timeout=5).status_code == 200  # a whole body


def test_granian_refuses_oversized_headers(granian: serving.Server) -> None:
    with socket.create_connection(("127.0.0.1", granian.port)) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
        answer = _closed_by_server(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]


def test_granian_keeps_a_busy_connection_alive(granian: serving.Server) -> None:
    """Requests on one kept-alive connection, spaced under the header timeout, all get answers."""
    with httpx.Client(base_url=granian.base, timeout=5) as client:
        for _ in range(3):
            assert client.get("/health/live").status_code == 200
            time.sleep(0.3)


def test_second_granian_on_a_taken_port_exits_non_zero(granian: serving.Server) -> None:
    import subprocess

    second = subprocess.run([*serving.cli(), "serve"], env=granian.env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert second.returncode != 0, second.stdout[-2000:]
    assert "address already in use" in second.stdout  # not silently sharing it (SO_REUSEPORT)
    assert httpx.get(granian.base + "/health/live", timeout=5).status_code == 200


def test_run_directory_path_is_per_run(tmp_path: Path) -> None:
    """Guard for the fixture above: a run directory is named after the supervisor's pid."""
    from server.observability.metrics_dir import RunDir

    with RunDir(tmp_path) as run:
        assert run.path.name.startswith("run-")
