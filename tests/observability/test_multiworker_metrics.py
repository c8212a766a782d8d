"""``segment-server serve --workers 2``: exact counter deltas on ``/metrics``, summed over both workers.

A real server on a free loopback port with a temp data dir (``segment-server demo --users 100``
first). Traffic goes over fresh connections from several threads so both workers serve some of
it (the access log, at sample rate 1.0, proves it by pid). Each worker flushes its tallies once a
second, so the test polls ``/metrics`` until the deltas are complete — and then requires them to
be exact, not "at least". The server's own output is grepped for the identifiers the traffic
carried, and after shutdown no live-gauge file of a worker may remain.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow

RAW_UID2 = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
EMAIL = "jane.doe@example.com"
IP4 = "203.0.113.77"
BEARER = "sk_live_Q2xpZW50U2VjcmV0MTIzNDU2Nzg5"

N_RTD_OK, N_RTD_BAD, N_SEG_OK, N_SEG_BAD = 40, 10, 30, 10


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("segment-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_live(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, subprocess.Popen[bytes]]]:
    tmp = tmp_path_factory.mktemp("multiworker")
    data = tmp / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_"))}
    env.update(SEGMENT_SERVER_STORE__DATA_DIR=str(data), SEGMENT_SERVER_SERVER__ACCESS_LOG_SAMPLE_RATE="1.0",
               SEGMENT_SERVER_STORE__CHECK_INTERVAL_SECONDS="0.5",
               # This test counts requests; auth on these endpoints is tested in tests/server/test_app_auth.py.
               SEGMENT_SERVER_AUTH__RTD_ENABLED="false", SEGMENT_SERVER_AUTH__SEGMENTS_ENABLED="false",
               SEGMENT_SERVER_AUTH__ADMIN_ENABLED="false")
    subprocess.run([*_cli(), "demo", "--users", "100"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_cli(), "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(base, proc, log)
        yield base, data, log, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(base + "/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _sum(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def _traffic(base: str) -> None:
    good = orjson.dumps({"site": {"page": "https://example.com/sports/"}, "device": {"ip": IP4},
                         "user": {"id": RAW_UID2, "ext": {"eids": [{"source": "x.com", "uids": [{"id": EMAIL}]}]}}})
    headers = {"authorization": f"Bearer {BEARER}"}

    def call(i: int) -> int:
        with httpx.Client(base_url=base, timeout=10, headers={**headers, "connection": "close"}) as c:
            if i < N_RTD_OK:
                return c.post("/rtd", content=good).status_code
            i -= N_RTD_OK
            if i < N_RTD_BAD:
                return c.post("/rtd", content=b"{not json " + EMAIL.encode()).status_code
            i -= N_RTD_BAD
            if i < N_SEG_OK:
                return c.get("/segments", params={"ip": IP4}).status_code
            return c.get("/segments", params={"nope": EMAIL}).status_code

    total = N_RTD_OK + N_RTD_BAD + N_SEG_OK + N_SEG_BAD
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(total)))
    assert statuses.count(400) == N_RTD_BAD + N_SEG_BAD
    assert statuses.count(200) == N_RTD_OK + N_SEG_OK


def test_exact_counter_deltas_across_two_workers(server: tuple[str, Path, Path, subprocess.Popen[bytes]]) -> None:
    base, _, log, _ = server
    time.sleep(1.5)  # let both workers flush their start-up counts before the baseline
    before = _scrape(base)
    _traffic(base)
    expected = {
        ("segserver_requests_total", "rtd", "200"): N_RTD_OK,
        ("segserver_requests_total", "rtd", "400"): N_RTD_BAD,
        ("segserver_requests_total", "segments", "200"): N_SEG_OK,
        ("segserver_requests_total", "segments", "400"): N_SEG_BAD,
    }

    def deltas(now: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
        out = {f"{n}{{{e},{s}}}": _sum(now, n, endpoint=e, status=s) - _sum(before, n, endpoint=e, status=s)
               for n, e, s in expected}
        out["rtd_latency_count"] = (_sum(now, "segserver_request_duration_seconds_count", endpoint="rtd")
                                    - _sum(before, "segserver_request_duration_seconds_count", endpoint="rtd"))
        out["rtd_segments_count"] = (_sum(now, "segserver_segments_returned_count", endpoint="rtd")
                                     - _sum(before, "segserver_segments_returned_count", endpoint="rtd"))
        out["privacy_decisions"] = (_sum(now, "segserver_privacy_decisions_total")
                                    - _sum(before, "segserver_privacy_decisions_total"))
        return out

    want = {f"{n}{{{e},{s}}}": float(v) for (n, e, s), v in expected.items()}
    want.update(rtd_latency_count=N_RTD_OK + N_RTD_BAD, rtd_segments_count=N_RTD_OK, privacy_decisions=N_RTD_OK)
    got: dict[str, float] = {}
    deadline = time.monotonic() + 15  # flushes are once a second per worker; this is only a cap
    while time.monotonic() < deadline:
        got = deltas(_scrape(base))
        if got == want:
            break
        time.sleep(0.3)
    assert got == want
    time.sleep(2.5)  # two more flush rounds: nothing may be counted twice
    assert deltas(_scrape(base)) == want

    samples = _scrape(base)
    assert _sum(samples, "segserver_store_snapshot_version") >= 1
    assert _sum(samples, "segserver_store_rows", table="members") > 0

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [r for r in lines if r.get("event") == "access"]
    assert len({r["pid"] for r in access}) == 2, "both workers should have served traffic"
    raw = log.read_text()
    for value in (RAW_UID2, EMAIL, IP4, BEARER):
        assert value not in raw


def test_status_json_sums_both_workers(server: tuple[str, Path, Path, subprocess.Popen[bytes]]) -> None:
    base = server[0]
    doc = httpx.get(base + "/status.json", timeout=5).json()
    assert doc["multiprocess"] is True
    assert doc["store"]["configured"] is True and doc["store"]["version"] >= 1
    metrics_total = _sum(_scrape(base), "segserver_requests_total", endpoint="rtd")
    assert doc["endpoints"]["rtd"]["requests"] == metrics_total


def test_shutdown_removes_live_gauge_files(server: tuple[str, Path, Path, subprocess.Popen[bytes]]) -> None:
    _, data, _, proc = server
    metrics_dir = data / "metrics"
    assert list(metrics_dir.glob("gauge_live*.db")), "workers should have live gauges while running"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert list(metrics_dir.glob("gauge_live*.db")) == []
    assert list(metrics_dir.glob("counter_*.db")), "counters outlive their workers"
