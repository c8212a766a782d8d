"""Two real server processes on loopback sharing one real engine (issue 19's two-node test).

Every wait polls with a generous deadline; the documented SLO (revoked on node 1 → refused on node 2
in ≤ 1 s) is a measured figure, printed for the README, not a pytest threshold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.engine import RedisProcess
from tests.cluster.nodes import FAILED_AUTH_MAX, ServerNode, wait_for

pytestmark = pytest.mark.slow

#: The revocation target of issue 19 and the README ("refused on every node in ≤ 1 s").
REVOCATION_SLO_S = 1.0


@pytest.fixture
def nodes(tmp_path: Path, own_engine: RedisProcess) -> Iterator[tuple[ServerNode, ServerNode]]:
    prefix = f"two-{uuid.uuid4().hex[:8]}"
    first = ServerNode(tmp_path, "node1", own_engine.url, prefix)
    second = ServerNode(tmp_path, "node2", own_engine.url, prefix, workers=2)  # each worker syncs on its own
    try:
        yield first.start(), second.start()
    finally:
        first.stop()
        second.stop()


def test_revoke_on_node1_is_refused_on_node2_and_an_engine_outage_degrades(
        nodes: tuple[ServerNode, ServerNode], own_engine: RedisProcess,
        capsys: pytest.CaptureFixture[str]) -> None:
    node1, node2 = nodes
    admin = node1.cli("create", "--name", "ops", "--no-secret", "-s", "admin", "-s", "rtd",
                      "-s", "segments")["identity"]
    partner = node1.cli("create", "--name", "partner", "--no-secret", "-s", "rtd")["identity"]
    assert isinstance(admin, dict) and isinstance(partner, dict)
    admin_token = str(node1.cli("token", admin["id"])["token"])
    partner_token = str(node1.cli("token", partner["id"])["token"])
    wait_for(lambda: node2.rtd(partner_token) == 200, "node 2 accepts a token issued on node 1")

    revoked = httpx.delete(f"{node1.base}/admin/identities/{partner['id']}/tokens",
                           headers={"authorization": f"Bearer {admin_token}"}, timeout=5)
    assert revoked.status_code == 200, revoked.text
    # Ten refusals in a row, each on a new connection: spread over node 2's two workers.
    took = wait_for(lambda: all(node2.rtd(partner_token) == 401 for _ in range(10)),
                    "node 2 refuses the revoked token")
    with capsys.disabled():
        print(f"\nrevocation propagation node 1 → node 2: {took * 1000:.0f} ms (SLO {REVOCATION_SLO_S} s)")
    # The SLO itself is a figure (printed, and in the README), not a pytest threshold: a loaded CI
    # machine must not turn a timing into a red build (issue 29); the wait above is the correctness check.
    assert node1.rtd(partner_token) == 401

    client = node1.cli("create", "--name", "client", "-s", "rtd")
    client_id, secret = str(client["identity"]["id"]), str(client["client_secret"])  # type: ignore[index]
    wait_for(lambda: httpx.get(f"{node2.base}/admin/identities/{client_id}", timeout=2,
                               headers={"authorization": f"Bearer {admin_token}"}).status_code == 200,
             "node 2 knows a client created on node 1")  # (polling /oauth/token would count failures)
    assert node2.oauth(client_id, secret) == 200
    wrong = [node1.oauth(client_id, "wrong"), node1.oauth(client_id, "wrong"),
             node2.oauth(client_id, "wrong")]
    assert wrong == [401] * FAILED_AUTH_MAX
    # Each worker blocks once it heard the cluster total; one that has not lets one attempt
    # through. Counted per worker alone, node 2 would need FAILED_AUTH_MAX failures on one worker.
    let_through = 0
    while node2.oauth(client_id, "wrong") != 429:
        let_through += 1
        assert let_through < 2, "node 2 blocks on failures counted on both nodes"

    own_engine.kill()
    wait_for(lambda: node2.ready().get("status") == "degraded", "node 2 reports degraded readiness")
    assert httpx.get(node2.base + "/health/ready", timeout=2).status_code == 200
    assert node2.rtd(admin_token) == 200, "/rtd keeps answering from local state"
    assert node2.rtd(partner_token) == 401, "the last known revocations stay"
    refused = httpx.delete(f"{node2.base}/admin/identities/{admin['id']}/tokens",
                           headers={"authorization": f"Bearer {admin_token}"}, timeout=5)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "cluster_unavailable"
    assert "nothing was revoked" in refused.json()["detail"]
    assert node2.rtd(admin_token) == 200, "a refused revoke changed nothing"
    assert httpx.get(node2.base + "/segments", params={"url": "https://example.com/"},
                     headers={"authorization": f"Bearer {admin_token}"}, timeout=2).status_code == 200
