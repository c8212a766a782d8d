"""README → Probes: with UID2 on, ``/health/ready`` is 503 ``NOT_INITIALIZED`` until keys load.

``serve`` runs against the fake UID2 operator on loopback. The operator first fails every call
(as a real one does during an outage or with a wrong key); the server must say NOT_INITIALIZED.
Then the operator recovers and the server's own retry loads the keys: ready turns 200.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.fake_servers import SECRET, OperatorApp, fresh_sharing_keys
from tests.e2e.harness import Server, start_server, wait_for
from tests.fakes.uid2_operator import FakeUID2Operator, Fault
from tests.fakes.xandr import LoopbackServer

OUTAGE = 10_000  # failing answers queued: far more than the retries the test lasts


@pytest.fixture(scope="module")
def operator() -> Iterator[tuple[FakeUID2Operator, str]]:
    fake = FakeUID2Operator(secret=SECRET, keys={"/v2/key/sharing": fresh_sharing_keys()})
    fake.inject(*[Fault.SERVER_ERROR] * OUTAGE)
    with LoopbackServer(OperatorApp(fake)) as base:
        yield fake, base


@pytest.fixture(scope="module")
def uid2_server(operator: tuple[FakeUID2Operator, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    fake, base = operator
    tables = {"uid2": {"enabled": True, "base_url": base, "api_key": fake.api_key,
                       "secret": base64.b64encode(SECRET).decode(), "client_type": "sharing",
                       "retry_initial_seconds": 0.2, "retry_max_seconds": 0.5}}
    server = start_server(tmp_path_factory.mktemp("uid2"), workers=1, tables=tables, ready=None)
    server.wait_ready(200, "/health/live")
    yield server
    server.stop()


def test_not_initialized_while_the_operator_fails(uid2_server: Server,
                                                   operator: tuple[FakeUID2Operator, str]) -> None:
    fake, _ = operator
    wait_for(lambda: any(status == 500 for _, status in fake.requests), 30,
             "the server never called the operator")
    ready = httpx.get(uid2_server.base + "/health/ready", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["uid2_keys"] == {"ok": False, "detail": "NOT_INITIALIZED"}
    assert ready.json()["checks"]["store"]["ok"] is True


def test_ready_once_the_operator_serves_keys(uid2_server: Server,
                                             operator: tuple[FakeUID2Operator, str]) -> None:
    fake, _ = operator
    fake.faults.clear()
    ready = uid2_server.wait_ready(200)
    assert ready.json()["checks"]["uid2_keys"] == {"ok": True, "detail": "READY"}
    assert ("/v2/key/sharing", 200) in fake.requests
    assert base64.b64encode(SECRET).decode() not in uid2_server.output()
