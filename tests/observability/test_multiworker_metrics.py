"""``segment-server serve --workers 2``: exact counter deltas on ``/metrics``, summed over both workers.

A real server on a free loopback port with a temp data dir (``segment-server demo --users 100``
first), configured by one file. Traffic goes over fresh connections from several threads so both
workers serve some of it (the access log, at sample rate 1.0, proves it by pid). Each worker
flushes its tallies once a second, so the test polls ``/metrics`` until the deltas are complete —
and then requires them to be exact, not "at least". The server's own output is grepped for the
identifiers the traffic carried. A second ``serve`` on the same port fails without touching the
first one's per-run metrics directory, and that directory goes away when the server stops.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from tests.observability import serving

pytestmark = pytest.mark.slow

RAW_UID2 = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
EMAIL = "jane.doe@example.com"
IP4 = "203.0.113.77"
BEARER = "sk_live_Q2xpZW50U2VjcmV0MTIzNDU2Nzg5"

N_RTD_OK, N_RTD_BAD, N_SEG_OK, N_SEG_BAD = 40, 10, 30, 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Server]:
    tmp = tmp_path_factory.mktemp("multiworker")
    config, _, port = serving.prepare(
        tmp, server={"access_log_sample_rate": 1.0}, store={"check_interval_seconds": 0.5},
        # This test counts requests; auth on these endpoints is tested in tests/server/test_app_auth.py.
        auth={"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False})
    srv = serving.start(tmp, config, port, "--workers", "2")
    try:
        serving.wait_for(lambda: httpx.get(srv.base + "/health/ready", timeout=2).status_code == 200,
                         "readiness")
        yield srv
    finally:
        srv.stop()


_scrape, _sum = serving.scrape, serving.total


def _traffic(base: str) -> None:
    good = orjson.dumps({"site": {"page": "https://example.com/sports/"}, "device": {"ip": IP4},
                         "user": {"id": RAW_UID2,
                                  "ext": {"eids": [{"source": "x.com", "uids": [{"id": EMAIL}]}]}}})
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


def test_exact_counter_deltas_across_two_workers(server: serving.Server) -> None:
    base, log = server.base, server.stdout_path
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
                                    - _sum(before, "segserver_request_duration_seconds_count",
                                           endpoint="rtd"))
        out["rtd_segments_count"] = (_sum(now, "segserver_segments_returned_count", endpoint="rtd")
                                     - _sum(before, "segserver_segments_returned_count", endpoint="rtd"))
        out["privacy_decisions"] = (_sum(now, "segserver_privacy_decisions_total")
                                    - _sum(before, "segserver_privacy_decisions_total"))
        return out

    want = {f"{n}{{{e},{s}}}": float(v) for (n, e, s), v in expected.items()}
    want.update(rtd_latency_count=N_RTD_OK + N_RTD_BAD, rtd_segments_count=N_RTD_OK,
                privacy_decisions=N_RTD_OK)
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


def test_status_json_sums_both_workers(server: serving.Server) -> None:
    base = server.base
    doc = httpx.get(base + "/status.json", timeout=5).json()
    assert doc["multiprocess"] is True
    assert doc["store"]["configured"] is True and doc["store"]["version"] >= 1
    metrics_total = _sum(_scrape(base), "segserver_requests_total", endpoint="rtd")
    assert doc["endpoints"]["rtd"]["requests"] == metrics_total


def _run_dir(server: serving.Server) -> Path:
    runs = list((server.data_dir / "metrics").glob("run-*"))
    assert [r.name for r in runs] == [f"run-{server.proc.pid}"], runs
    return runs[0]


def test_every_process_of_the_run_shares_its_lock(server: serving.Server) -> None:
    """The supervisor and both workers: the directory stays even if the supervisor alone dies."""
    inode = (_run_dir(server) / "lock").stat().st_ino
    locks = (line.split() for line in Path("/proc/locks").read_text().splitlines())
    holders = {int(fields[4]) for fields in locks
               if fields[1] == "FLOCK" and fields[3] == "READ" and int(fields[5].rsplit(":", 1)[1]) == inode}
    assert server.proc.pid in holders and len(holders) == 3, holders


def test_a_second_serve_on_the_same_port_leaves_the_first_alone(server: serving.Server) -> None:
    """It exits non-zero, and the running server's run directory and counters are untouched."""
    run = _run_dir(server)
    files = sorted(p.name for p in run.iterdir())
    before = _sum(_scrape(server.base), "segserver_requests_total")
    second = subprocess.run([*serving.cli(), "serve", "--workers", "2"], env=server.env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert second.returncode != 0
    assert "address already in use" in second.stdout.lower()
    for line in second.stdout.splitlines():  # one format even when failing: JSON lines
        assert isinstance(json.loads(line), dict), line
    assert _run_dir(server) == run and set(files) <= {p.name for p in run.iterdir()}
    assert _sum(_scrape(server.base), "segserver_requests_total") >= before > 0


def test_console_flag_switches_every_line(server: serving.Server) -> None:
    """``--log-format console``: uvicorn's lines and ours alike, none of them JSON."""
    second = subprocess.run([*serving.cli(), "serve", "--log-format", "console"], env=server.env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode != 0
    lines = second.stdout.splitlines()
    assert any("hot_path" in line for line in lines) and any("address already in use" in line.lower()
                                                                for line in lines)
    assert not [line for line in lines if line.startswith("{")]


def test_shutdown_removes_the_run_directory(server: serving.Server) -> None:
    run = _run_dir(server)
    assert list(run.glob("gauge_live*.db")), "workers should have live gauges while running"
    assert list(run.glob("counter_*.db"))
    assert server.stop() == 0
    assert not run.exists()
    for line in server.lines():
        assert isinstance(json.loads(line), dict), line
