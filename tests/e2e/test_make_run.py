"""README: "``make run`` ... prints three ``curl`` examples (Index's two published sample requests and
a Cached API call) before the server starts". The printed commands are run as printed, against a
server started the way ``make run`` starts it (``demo`` then ``serve``, one worker, auth on), with
the token the script itself minted; only the port is substituted (``make run`` uses 8080, which
other processes on a shared machine may hold)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ROOT, Server, cli_env, start_server

SCRIPT = ROOT / "scripts" / "print-examples.sh"
METRICS_DEADLINE = 30.0  # tallies flush once a second; this caps a worker starved on a loaded box


@pytest.fixture(scope="module")
def make_run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("make-run"), demo_users=10_000)  # DEMO_USERS default
    yield server
    server.stop()


def _printed(server: Server) -> str:
    done = subprocess.run([str(SCRIPT)], env=cli_env(server.config), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_printed_curl_examples_work(make_run_server: Server) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's examples"
    printed = _printed(make_run_server)
    commands = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
    assert len(commands) == 5, printed  # two /rtd, /segments, /status.json, /metrics
    assert all("Authorization: Bearer ss1_" in c for c in commands[:3]), "the demo runs with auth on"
    bodies = []
    for command in commands:
        command = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{make_run_server.port}", command)
        if "|" in command:  # the /metrics line pipes into grep: found once the tallies flush (1 s)
            deadline = time.monotonic() + METRICS_DEADLINE
            while True:
                done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT,
                                      capture_output=True, text=True, timeout=60, check=False)
                if done.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert done.returncode == 0 and "segserver_requests_total" in done.stdout, (command, done)
            continue
        done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, (command, done.stderr)
        *body, status = done.stdout.rstrip("\n").split("\n")
        assert status == "200", (command, done.stdout)
        bodies.append("\n".join(body))
    web, app = (json.loads(b) for b in bodies[:2])
    assert web["segment_ids"][:2] == app["segment_ids"][:2] == ["cat_owners", "target_shoppers"]
    assert "gamers" in app["segment_ids"] and "news_readers" in web["segment_ids"]
    cached = bodies[2]  # curl -si: headers, blank line, body
    assert re.search(r"(?im)^cache-control: max-age=\d+", cached), cached
    assert json.loads(cached.split("\n\n", 1)[1])["segment_ids"], cached
    assert json.loads(bodies[3]), bodies[3]  # /status.json from this machine, no token


def test_status_page_line_points_at_the_server(make_run_server: Server) -> None:
    printed = _printed(make_run_server)
    assert re.search(r"http://127\.0\.0\.1:\d+/status", printed), printed
