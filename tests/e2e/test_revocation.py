"""README → Access control (OAuth2 client credentials at the end of this module): "Revoking all of an
identity's tokens or deleting it takes effect in every worker within 1 s". Identities are created
and revoked with the CLI, as ops does, on the data dir of a running ``serve --workers N``; every
worker must then refuse the token."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.harness import Server, run_cli
from tests.serverproc import wait_for

DOCUMENTED_S = 1.0  # README: "within 1 s"
REFUSAL_DEADLINE_S = 30.0  # a cap for a stuck worker, not a measurement
EVERY_WORKER_DEADLINE_S = 60.0  # fresh connections are tried until every worker has answered once


def _fresh_status(server: Server, token: str) -> int:
    with server.client(token=token, headers={"connection": "close"}) as c:
        return c.post("/rtd", content=b"{}").status_code


def _identity_token(server: Server, name: str) -> tuple[str, str]:
    created = run_cli(server.config, "identities", "create", "--name", name, "-s", "rtd", "-s", "segments",
                      "--no-secret")
    assert created.returncode == 0, created.stderr
    identity_id = json.loads(created.stdout)["identity"]["id"]
    issued = run_cli(server.config, "identities", "token", identity_id, "-s", "rtd", "--expires-in", "3600")
    assert issued.returncode == 0, issued.stderr
    return identity_id, json.loads(issued.stdout)["token"]


def _answers_by_pid(server: Server, token: str, workers: int) -> dict[int, set[int]]:
    """Fresh connections until every worker has answered; {pid: statuses}, pids from the access
    lines that 4xx answers always get."""
    statuses: list[int] = []
    before = len(server.records())

    def call(_: int) -> int:
        with server.client(token=token, headers={"connection": "close"}) as c:
            return c.post("/rtd", content=b"{}").status_code

    by_pid: dict[int, set[int]] = {}

    def every_worker_answered() -> bool:
        # Access lines reach stdout a little after the answers, later still on a loaded box: a round
        # that sees too few pids sends more, until the deadline (not a fixed count of requests).
        by_pid.clear()
        for r in server.records()[before:]:
            if r.get("event") == "access" and r.get("path") == "/rtd":
                by_pid.setdefault(int(r["pid"]), set()).add(int(r["status"]))
        if len(by_pid) >= workers:
            return True
        statuses.extend(pool.map(call, range(40)))
        return False

    with ThreadPoolExecutor(8) as pool:
        statuses.extend(pool.map(call, range(40)))
        wait_for(every_worker_answered, EVERY_WORKER_DEADLINE_S,
                 lambda: f"access lines from pids {sorted(by_pid)}, {workers} workers expected",
                 step_s=0.3)
    assert set(statuses) == {401}, f"some worker still accepts the token: {sorted(set(statuses))}"
    return by_pid


@pytest.mark.parametrize("action", ["revoke", "delete"])
def test_revoked_token_refused_by_every_worker(served: Server, action: str) -> None:
    workers = int(served.extra["workers"])
    identity_id, token = _identity_token(served, f"e2e-{action}")
    with served.client(token=token) as c:
        assert c.post("/rtd", content=b"{}").status_code == 200
    done = run_cli(served.config, "identities", action, identity_id)
    assert done.returncode == 0, done.stderr
    started = time.monotonic()
    # The promise is "within 1 s"; the test waits with a generous deadline and prints the figure
    # (timings are measured, not asserted: issue 29). 20 fresh connections in a row refused.
    wait_for(lambda: all(_fresh_status(served, token) == 401 for _ in range(20)), REFUSAL_DEADLINE_S,
             f"a worker still accepts the {action}d token")
    print(f"\n{action} refused by fresh connections after {time.monotonic() - started:.2f} s "
          f"(documented: {DOCUMENTED_S} s)")
    by_pid = _answers_by_pid(served, token, workers)
    assert len(by_pid) == workers, f"expected {workers} workers to answer, saw pids {sorted(by_pid)}"
    assert all(s == {401} for s in by_pid.values()), by_pid


def test_oauth_client_credentials_as_the_readme_shows(served: Server) -> None:
    """README → Access control: ``curl -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials``."""
    created = run_cli(served.config, "identities", "create", "--name", "index", "-s", "rtd", "-s", "segments")
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)
    client_id, secret = doc["identity"]["id"], doc["client_secret"]
    with httpx.Client(base_url=served.base, timeout=10) as c:
        issued = c.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        refused = c.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong"))
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400
    assert token["scope"] == "rtd segments"
    assert token["access_token"].startswith("ss1_")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with served.client(token=token["access_token"]) as c:
        assert c.post("/rtd", content=b"{}").status_code == 200
        assert c.get("/admin/status").status_code == 403  # never a scope the identity lacks
    assert secret not in served.output()
