"""``segment-server serve --workers 1`` on the default configuration, as ``make run`` starts it.

One real server (auth on, access-log sample rate 0.0, JSON logs) answers: the curl lines
``scripts/print-examples.sh`` prints, run verbatim; exact counter deltas read back from
``/metrics``; ``/status.json`` from loopback without a token; the access log writes error lines
only and never a query value; and every line the run wrote on stdout is one JSON object.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.observability import serving

pytestmark = pytest.mark.slow

IP4 = "203.0.113.77"
EMAIL = "jane.doe@example.com"
N_OK = 25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Server]:
    tmp = tmp_path_factory.mktemp("one-worker")
    config, _, port = serving.prepare(tmp)
    srv = serving.start(tmp, config, port, "--workers", "1")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def token(server: serving.Server) -> str:
    done = subprocess.run([*serving.cli(), "demo-token"], env=server.env, capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.strip()


def test_printed_examples_work_verbatim(server: serving.Server) -> None:
    script = serving.cli()[0]
    if not script.endswith("segment-server"):
        pytest.skip("no segment-server console script next to this interpreter")
    printed = subprocess.run([str(serving.REPO / "scripts/print-examples.sh")], capture_output=True,
                             text=True,
                             env={**server.env, "SEGMENT_SERVER_CLI": script}, check=True, timeout=60).stdout
    assert f"http://127.0.0.1:{server.port}" in printed
    commands = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
    assert len(commands) == 5

    def run(command: str) -> str:
        done = subprocess.run(["bash", "-c", command], cwd=serving.REPO, capture_output=True, text=True,
                              timeout=30,
                              check=False)
        assert done.returncode == 0, (command, done.stderr)
        return done.stdout

    for command in commands[:-1]:
        out = run(command)
        if "/rtd" in command:
            assert "error" not in json.loads(out), out  # an answer, not an error body
        elif "/segments" in command:
            assert out.startswith("HTTP/1.1 200"), out
        else:
            assert "/status.json" in command and json.loads(out)["endpoints"]["rtd"]["requests"] >= 0
    metrics = commands[-1]
    assert "/metrics" in metrics and "Authorization" not in metrics

    def counted() -> bool:  # hot-path counts reach prometheus-client once a second
        done = subprocess.run(["bash", "-c", metrics], capture_output=True, text=True, timeout=30,
                              check=False)
        return done.returncode == 0 and 'endpoint="rtd",status="200"' in done.stdout

    serving.wait_for(counted, "the printed /metrics example to show the /rtd requests")


def test_counters_read_back_exactly(server: serving.Server, token: str) -> None:
    before = serving.scrape(server.base)
    with httpx.Client(base_url=server.base, headers={"authorization": f"Bearer {token}"},
                      timeout=10) as client:
        for _ in range(N_OK):
            assert client.get("/segments", params={"ip": IP4}).status_code == 200

    def delta() -> float:
        name = "segserver_requests_total"
        return (serving.total(serving.scrape(server.base), name, endpoint="segments", status="200")
                - serving.total(before, name, endpoint="segments", status="200"))

    serving.wait_for(lambda: delta() >= N_OK, f"{N_OK} /segments requests on /metrics")
    assert delta() == N_OK
    status = httpx.get(server.base + "/status.json", timeout=5)  # loopback, no token: local-only
    assert status.status_code == 200
    assert status.json()["endpoints"]["segments"]["by_status"]["200"] >= N_OK
    assert status.json()["multiprocess"] is False  # one worker counts in memory


def test_access_log_writes_errors_only_and_no_query_values(server: serving.Server, token: str) -> None:
    bad = httpx.get(server.base + "/segments", params={"nope": EMAIL}, timeout=5,
                    headers={"authorization": f"Bearer {token}"})
    assert bad.status_code == 400
    assert httpx.get(server.base + "/segments", params={"ip": IP4}, timeout=5).status_code == 401  # no token

    def access() -> list[dict[str, object]]:
        return [r for r in server.records() if r.get("event") == "access"]

    serving.wait_for(lambda: len([r for r in access() if r["path"] == "/segments"]) >= 2, "two error lines")
    lines = access()
    assert all(int(str(r["status"])) >= 400 and r["sampled"] is False for r in lines), lines
    assert {(r["path"], r["status"]) for r in lines} >= {("/segments", 400), ("/segments", 401)}
    assert not [r for r in server.records() if r.get("logger") == "uvicorn.access"]
    raw = server.stdout_path.read_text()
    for value in (IP4, EMAIL, token):
        assert value not in raw


def test_every_stdout_line_is_one_json_object(server: serving.Server) -> None:
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it shut down on
    lines = server.lines()
    assert any("Uvicorn running on" in line for line in lines)  # uvicorn's own lines are included
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert server.stderr_path.read_text() == ""

