"""Two real server processes, one real engine, the fake UID2 operator over HTTP: an identity job
started on both nodes runs once, and its results reach the other node (issue 19)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from loadtest.fake_operator import OperatorApp
from segments.dii import hash_dii
from tests import serverproc
from tests.cluster.engine import RedisProcess
from tests.cluster.nodes import ServerNode, wait_for
from tests.fakes.uid2_identity import FakeIdentityOperator
from tests.serverproc import free_port

pytestmark = pytest.mark.slow

SECRET = bytes(range(32))
EMAILS = ["ana@example.com", "bo@example.com", "cy@example.com"]
MAP_DELAY_S = 2.0  # the operator answers slowly: the first runner still holds the lease


class SlowMap(OperatorApp):
    """The fake operator over HTTP, answering ``/v3/identity/map`` after :data:`MAP_DELAY_S`."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("path") == "/v3/identity/map":
            await asyncio.sleep(MAP_DELAY_S)
        await super().__call__(scope, receive, send)


@pytest.fixture
def operator() -> Iterator[tuple[FakeIdentityOperator, str]]:
    fake = FakeIdentityOperator(secret=SECRET)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(SlowMap(fake), host="127.0.0.1", port=port,  # type: ignore[arg-type]
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    serverproc.wait_for(lambda: server.started, 30, "fake operator listening")
    yield fake, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_an_identity_job_started_on_both_nodes_runs_once(
        tmp_path: Path, own_engine: RedisProcess, operator: tuple[FakeIdentityOperator, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = operator
    prefix = f"id-{uuid.uuid4().hex[:8]}"
    identity = {"identity": {"enabled": True, "base_url": url, "api_key": fake.operator.api_key,
                             "secret": base64.b64encode(SECRET).decode()}}
    nodes = [ServerNode(tmp_path, name, own_engine.url, prefix, extra=identity)
             for name in ("node1", "node2")]
    try:
        node1, node2 = (node.start() for node in nodes)
        admin = node1.cli("create", "--name", "ops", "--no-secret", "-s", "admin")["identity"]
        assert isinstance(admin, dict)
        token = str(node1.cli("token", admin["id"])["token"])
        rows = "".join(json.dumps({"kind": "email", "key": e, "segments": ["gamers"]}) + "\n" for e in EMAILS)
        (tmp_path / "dii.jsonl").write_text(rows)
        node1.run("load", str(tmp_path / "dii.jsonl"))  # DII is loaded where snapshots are made

        first = serverproc.spawn(node1.config, "uid2", "map", "--now", port=0, logs=tmp_path / "map1.log")
        engine = redis.Redis.from_url(own_engine.url, decode_responses=True)
        progress_key = f"{{{prefix}}}:identity:progress"
        wait_for(lambda: engine.hget(progress_key, "state") == "running", "node 1's job holds the lease", 30)
        second = serverproc.run_cli(node2.config, "uid2", "map", "--now", timeout=60)
        assert second.returncode == 3, second.stdout + second.stderr
        assert "another node holds the identity lease" in second.stdout
        assert first.proc.wait(60) == 0, (tmp_path / "map1.log.out").read_text()[-2000:]
        assert json.loads((tmp_path / "map1.log.out").read_text().strip().splitlines()[-1])["mapped"] == 3
        assert [path for path, _ in fake.calls].count("/v3/identity/map") == 1, fake.calls

        uid = fake.current_uid(":".join(hash_dii("email", EMAILS[0])))
        took = wait_for(lambda: "gamers" in httpx.get(f"{node2.base}/admin/memberships", timeout=5,
                                                params={"kind": "uid2", "key": uid},
                                                headers={"authorization": f"Bearer {token}"}).text,
                 "node 2 has the job's result", 30)
        status = json.loads(serverproc.run_cli(node2.config, "uid2", "status").stdout)
        assert status["cluster"]["progress"]["state"] == "done", status
        assert status["cluster"]["progress"]["job"] == "map"
        with capsys.disabled():
            print(f"\nidentity job's result on node 2: {1000 * took:.0f} ms after its process ended")
        engine.close()
    finally:
        for node in nodes:
            node.stop()
