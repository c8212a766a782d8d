"""Two real server processes, one real engine: live segment edits and snapshot publishes (issue 19).

Every wait polls with a generous deadline; the propagation and pick-up times are printed for the
README, never asserted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.cluster.engine import RedisProcess
from tests.cluster.nodes import ServerNode, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(tmp_path: Path, own_engine: RedisProcess) -> Iterator[tuple[ServerNode, ServerNode]]:
    prefix = f"data-{uuid.uuid4().hex[:8]}"
    shared = tmp_path / "shared"  # the publish volume every node mounts
    first = ServerNode(tmp_path, "node1", own_engine.url, prefix, publish_dir=shared)
    second = ServerNode(tmp_path, "node2", own_engine.url, prefix, workers=2, publish_dir=shared)
    try:
        yield first.start(), second.start()
    finally:
        first.stop()
        second.stop()


def test_live_edits_and_a_publish_reach_both_nodes_and_an_engine_outage_refuses_edits(
        nodes: tuple[ServerNode, ServerNode], own_engine: RedisProcess, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    node1, node2 = nodes
    admin = node1.cli("create", "--name", "ops", "--no-secret", "-s", "admin", "-s", "rtd")["identity"]
    assert isinstance(admin, dict)
    token = str(node1.cli("token", admin["id"])["token"])
    auth = {"authorization": f"Bearer {token}"}
    wait_for(lambda: node2.rtd(token) == 200, "node 2 accepts a token issued on node 1")

    def edit(node: ServerNode, body: dict[str, object]) -> httpx.Response:
        return httpx.post(f"{node.base}/admin/memberships", json=body, headers=auth, timeout=10)

    live = f"live-{uuid.uuid4().hex[:6]}.com"
    started = time.monotonic()
    done = edit(node1, {"upsert": [{"kind": "domain", "key": live, "segments": ["gamers"]}]})
    assert done.status_code == 200, done.text
    assert done.json()["applied_here"] and done.json()["upserted"] == 1, done.text
    wait_for(lambda: "gamers" in node1.segments_for_domain(token, live), "node 1 answers its own edit")
    took = wait_for(lambda: "gamers" in node2.segments_for_domain(token, live),
                    "node 2 answers the live edit")
    edit_ms = (time.monotonic() - started) * 1000

    bulk = f"bulk-{uuid.uuid4().hex[:6]}.com"
    (tmp_path / "bulk.csv").write_text(f"kind,key,segments,expires\ndomain,{bulk},students,\n")
    node1.run("load", str(tmp_path / "bulk.csv"))
    published = node1.run("cluster", "publish")
    picked = time.monotonic()
    for node in (node1, node2):
        wait_for(lambda n=node: "students" in n.segments_for_domain(token, bulk),  # type: ignore[misc]
                 f"{node.base} serves the published snapshot", 30)
    pickup_ms = (time.monotonic() - picked) * 1000
    assert "gamers" in node2.segments_for_domain(token, live), "the earlier live edit survives the switch"
    assert edit(node2, {"delete": [{"kind": "domain", "key": live}]}).status_code == 200
    for node in (node1, node2):  # every worker of both nodes (readers look again every check interval)
        wait_for(lambda n=node: all("gamers" not in n.segments_for_domain(token, live)  # type: ignore[misc]
                                    for _ in range(6)), "a later edit applies on top")
    status = httpx.get(f"{node2.base}/admin/status", headers=auth, timeout=5).json()
    with capsys.disabled():
        print(f"\nlive edit node 1 → node 2 /rtd: {edit_ms:.0f} ms (wait {took * 1000:.0f} ms); "
              f"publish v{published['version']} ({published['size']} bytes) picked up by both: "
              f"{pickup_ms:.0f} ms")
    data = status["subsystems"]["cluster"]["data"]
    assert data["published_version"] == data["installed_version"] == published["version"], data
    assert data["problem"] is None, data

    # A damaged published file: both keep serving their last good snapshot, readiness names the file.
    damaged = tmp_path / "shared" / "snap-00000099.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    engine = redis.Redis.from_url(own_engine.url)
    engine.set(f"{{{node1.prefix}}}:snapshot:published", json.dumps({
        "version": 99, "name": damaged.name, "sha256": "0" * 64, "size": 116, "edits": "0-0",
        "published_at": time.time(), "by": "test"}))
    engine.close()
    for node in (node1, node2):  # every worker says so (each notices on its own next check)
        wait_for(lambda n=node: all(_degraded_naming(n.ready(), str(damaged))  # type: ignore[misc]
                                    for _ in range(6)), f"{node.base} names the damaged file", 30)
        assert "students" in node.segments_for_domain(token, bulk), "the last good snapshot serves"

    own_engine.kill()
    refused = edit(node2, {"upsert": [{"kind": "domain", "key": live, "segments": ["gamers"]}]})
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "cluster_unavailable"
    assert "nothing was changed" in refused.json()["detail"]
    assert "gamers" not in node2.segments_for_domain(token, live), "a refused edit changed nothing"
    wait_for(lambda: all(_degraded_naming(node2.ready(), "engine unreachable") for _ in range(6)),
             "node 2's readiness names the engine")


def _degraded_naming(answer: dict[str, object], what: str) -> bool:
    """One readiness answer (one worker's) is 200 ``degraded`` and names ``what``."""
    return answer["status"] == "degraded" and what in str(answer)
