"""The Xandr mirror across two real ``serve`` processes sharing one real engine (issue 19).

* ``kill -9`` of the node whose worker holds the member's sender lease, mid-mirror: the other node
  takes the lease over, claims what the killed sender had read (XAUTOCLAIM) and every membership
  either node answered reaches the fake Xandr — except those the killed node answered within its
  documented flush window before the kill (README: ``flush_interval``, ≤ 100 ms, plus the same
  scheduling allowance as ``tests/e2e/test_mirror_kill.py``). Its rows already durable in its own
  outbox but not yet forwarded reach Xandr when it restarts. Duplicates are counted and printed.
* Engine down: ``/rtd`` keeps answering, intents wait in the node's own outbox, readiness says
  ``degraded``; when the engine is back they are forwarded and delivered.

Every wait is a condition under a generous deadline; figures are printed, never asserted.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.cluster.engine import RedisProcess
from tests.e2e.harness import post_fresh
from tests.fakes.xandr import FakeXandr, LoopbackServer
from tests.serverproc import Server, free_port, run_cli, serve_ready, wait_for, write_config

pytestmark = pytest.mark.slow

FLUSH_INTERVAL = 0.1  # the documented window ([mirror] flush_interval, ≤ 0.1 enforced)
# A flush (and the forward right after it) is an asyncio task sharing 2 cores with the test, the
# other node and the neighbours: it may run this much late. Same allowance as the single-node test.
SCHEDULING_ALLOWANCE = 0.2
LEASE_S = 2.0
DEADLINE = 90.0
MEMBER = 1234  # the fake's member id
# Each POST is answered this late (applied at once): the sender nearly always has a batch in flight,
# so the kill usually lands between Xandr applying a batch and the XACK — the duplicate case.
XANDR_LATENCY_S = 0.1
PAGE = {"site": {"page": "https://example.com/cars/x"}}


def xandr_id(i: int) -> str:
    return str(8_000_000_000 + i)


class MirrorNode:
    """One ``serve`` node with the mirror on, its own data dir and port; engine and prefix shared."""

    def __init__(self, root: Path, name: str, engine_url: str, prefix: str, xandr: str, fake: FakeXandr,
                 workers: int = 1) -> None:
        self.name, self.port, self.root = name, free_port(), root / name
        self.data = self.root / "data"
        self.root.mkdir(parents=True)
        self.config = write_config(self.root / "server.toml", {
            "store": {"data_dir": self.data},
            "server": {"host": "127.0.0.1", "port": self.port, "workers": workers},
            "cluster": {"enabled": True, "url": engine_url, "key_prefix": prefix,
                        "connect_timeout_s": 0.2, "command_timeout_s": 0.5},
            "mirror": {"enabled": True, "api_url": xandr, "streaming_url": xandr, "username": fake.username,
                       "password": fake.password, "member_id": MEMBER, "lease_seconds": LEASE_S,
                       "idle_poll": 0.05, "backoff_initial": 0.1, "backoff_max": 1.0},
            "auth": {"rtd_enabled": False},
        })
        rows = self.root / "rows"
        rows.mkdir()
        (rows / "taxonomy.jsonl").write_text(
            json.dumps({"id": "cars", "name": "Cars", "xandr": {"seg_id": 101, "expiration": 1440}}) + "\n")
        (rows / "members.csv").write_text("kind,key,segments,expires\nurl,example.com/cars,cars,\n")
        loaded = run_cli(self.config, "load", "--replace", "--taxonomy", str(rows / "taxonomy.jsonl"),
                         str(rows / "members.csv"))
        assert loaded.returncode == 0, loaded.stderr
        self.server: Server | None = None

    def start(self) -> MirrorNode:
        self.server = serve_ready(self.config, port=self.port, logs=self.root / "server.log",
                                  data_dir=self.data, merged=True)
        return self

    @property
    def pids(self) -> set[int]:
        """The node's processes: the server and, with several workers, its worker children."""
        assert self.server is not None
        pid = self.server.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return {pid, *(int(c) for c in (children.read_text().split() if children.exists() else []))}

    def kill_9(self) -> None:
        """SIGKILL every process of this node (our own children only), as a crashed host would look."""
        for pid in self.pids:
            os.kill(pid, signal.SIGKILL)
        assert self.server is not None
        self.server.proc.wait()

    def rtd(self, i: int) -> bool:
        body = {**PAGE, "user": {"eids": [{"source": "adnxs.com", "uids": [{"id": xandr_id(i)}]}]}}
        status, answer = post_fresh(self.port, "/rtd", json.dumps(body).encode())
        return status == 200 and json.loads(answer)["segment_ids"] == ["cars"]

    def ready(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"http://127.0.0.1:{self.port}/health/ready", timeout=2).json()
        return answer

    def local_intents(self) -> set[str]:
        path = self.data / "mirror-outbox.sqlite3"
        if not path.exists():
            return set()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return {row[0] for row in conn.execute("SELECT user_id FROM intents")}

    def mirror_status(self) -> dict[str, Any]:
        done = run_cli(self.config, "mirror", "status", "--json", timeout=60)
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    def admin_status(self) -> dict[str, Any]:
        """``/admin/status`` with an admin token made by this node's CLI."""
        made = run_cli(self.config, "identities", "create", "--name", "ops", "--no-secret", "-s", "admin")
        assert made.returncode == 0, made.stderr
        token = run_cli(self.config, "identities", "token", json.loads(made.stdout)["identity"]["id"])
        assert token.returncode == 0, token.stderr
        answer: dict[str, Any] = httpx.get(
            f"http://127.0.0.1:{self.port}/admin/status", timeout=5,
            headers={"authorization": f"Bearer {json.loads(token.stdout)['token']}"}).json()
        return answer

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def fake_xandr() -> Iterator[tuple[FakeXandr, str]]:
    fake = FakeXandr(latency=XANDR_LATENCY_S)
    with LoopbackServer(fake) as base:
        yield fake, base


def delivered(fake: FakeXandr) -> set[str]:
    with fake.lock:
        return {uid for uid, domain in fake.memberships if domain is None}


def lease_holder(engine: RedisProcess, prefix: str) -> str | None:
    client = redis.Redis(port=engine.port, decode_responses=True, socket_timeout=2)
    try:
        holder = client.get(f"{{{prefix}}}:lease:mirror-sender:{MEMBER}")
        return None if holder is None else str(holder)
    finally:
        client.close()


def traffic(nodes: list[MirrorNode], users: range, kill_after: int | None = None,
            kill: Callable[[], None] | None = None) -> tuple[dict[str, tuple[str, float]], float | None]:
    """Distinct Xandr users, alternating nodes, fresh connections; optionally ``kill()`` once
    ``kill_after`` were answered. Returns {user: (node, monotonic time its 200 arrived)}, kill time."""
    answered: dict[str, tuple[str, float]] = {}
    lock = threading.Lock()
    killed_at: list[float] = []

    def call(i: int) -> None:
        time.sleep(0.005)
        node = nodes[i % len(nodes)]
        try:
            ok = node.rtd(i)
        except (OSError, http.client.HTTPException):
            return  # the killed node's connections
        if ok:
            with lock:
                answered[xandr_id(i)] = (node.name, time.monotonic())
                if kill is not None and len(answered) == kill_after and not killed_at:
                    killed_at.append(time.monotonic())
                    kill()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, users))
    return answered, killed_at[0] if killed_at else None


@pytest.fixture
def two_nodes(tmp_path: Path, own_engine: RedisProcess,
              fake_xandr: tuple[FakeXandr, str]) -> Iterator[tuple[MirrorNode, MirrorNode, str]]:
    fake, base = fake_xandr
    prefix = f"mirror-{uuid.uuid4().hex[:8]}"
    first = MirrorNode(tmp_path, "node1", own_engine.url, prefix, base, fake)
    second = MirrorNode(tmp_path, "node2", own_engine.url, prefix, base, fake, workers=2)
    try:
        yield first.start(), second.start(), prefix
    finally:
        first.stop()
        second.stop()


def test_kill_9_of_the_lease_holding_node_mid_mirror(
        two_nodes: tuple[MirrorNode, MirrorNode, str], own_engine: RedisProcess,
        fake_xandr: tuple[FakeXandr, str], capsys: pytest.CaptureFixture[str]) -> None:
    node1, node2, prefix = two_nodes
    fake, _ = fake_xandr
    wait_for(lambda: lease_holder(own_engine, prefix) is not None, 30, "no sender took the member's lease")
    holder = lease_holder(own_engine, prefix)
    assert holder is not None
    pid = int(holder.split(":")[1])  # holder = host:pid:uuid (server/mirror/sender.py)
    victim, survivor = (node1, node2) if pid in node1.pids else (node2, node1)
    assert pid in victim.pids, "the lease holder must be a worker of one of our nodes"

    in_flight: list[int] = []

    def kill() -> None:
        in_flight.append(fake.in_flight)  # POSTs Xandr applied and has not answered yet
        victim.kill_9()

    answered, killed_at = traffic([node1, node2], range(1400), kill_after=600, kill=kill)
    assert killed_at is not None, f"only {len(answered)} requests answered"
    window_start = killed_at - FLUSH_INTERVAL - SCHEDULING_ALLOWANCE
    # Anything answered by the survivor, and by the victim before its flush window, must arrive.
    must_arrive = {u for u, (node, t) in answered.items() if node == survivor.name or t <= window_start}
    assert any(node == survivor.name and t > killed_at + SCHEDULING_ALLOWANCE
               for node, t in answered.values()), "the surviving node kept answering after the kill"
    wait_for(lambda: must_arrive <= delivered(fake), DEADLINE,
             lambda: f"{len(must_arrive - delivered(fake))} answered memberships never reached Xandr")
    took = time.monotonic() - killed_at  # a figure, printed below (the traffic went on after the kill)
    new_holder = lease_holder(own_engine, prefix)
    assert new_holder is not None and int(new_holder.split(":")[1]) in survivor.pids

    wait_for(lambda: (status := survivor.mirror_status()["cluster"])["stream_length"] == 0
             and not status["pending"], DEADLINE, "the stream never drained")
    status = survivor.mirror_status()["cluster"]  # the CLI on the surviving node: the shared view
    shared = survivor.admin_status()["subsystems"]["mirror"]["cluster"]  # the same, on the admin API
    assert shared["forwarding"] is True and shared["stream"]["duplicates"] == status["duplicates"]
    assert shared["stream"]["lease_holder"] == new_holder
    stranded = victim.local_intents()  # durable on the killed node, not yet forwarded
    victim.start()  # the same data dir: its forwarder ships them
    wait_for(lambda: stranded <= delivered(fake), DEADLINE, "the restarted node never forwarded its rows")
    lost = set(answered) - delivered(fake)
    assert all(answered[u][0] == victim.name and answered[u][1] > window_start for u in lost), lost
    with fake.lock:
        at_xandr = fake.stats.valid_adds - len(fake.memberships)
    with capsys.disabled():
        print(f"\nkill -9 mid-mirror: {len(answered)} answered, "
              f"{len(lost)} lost in the victim's flush window, "
              f"{len(stranded)} stranded in its outbox until restart; duplicates counted "
              f"{status['duplicates']}, seen at Xandr {at_xandr}; "
              f"POSTs in flight at the kill {in_flight}; sent/5 min {status['sent_last_5min']}; "
              f"all delivered within {took:.1f} s of the kill (lease {LEASE_S:g} s)")
    assert at_xandr <= status["duplicates"], "every duplicate Xandr saw was a claimed entry, and counted"
    assert fake.violations == []


def test_engine_down_keeps_intents_in_the_local_outbox_and_forwards_them_when_back(
        tmp_path: Path, own_engine: RedisProcess, fake_xandr: tuple[FakeXandr, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    fake, base = fake_xandr
    node = MirrorNode(tmp_path, "node", own_engine.url, f"down-{uuid.uuid4().hex[:8]}", base, fake).start()
    try:
        before, _ = traffic([node], range(100))
        wait_for(lambda: set(before) <= delivered(fake), DEADLINE, "first users never arrived")
        own_engine.kill()
        during, _ = traffic([node], range(100, 400))
        assert len(during) == 300, "/rtd answers from local state while the engine is down"
        wait_for(lambda: node.local_intents() == set(during), DEADLINE,
                 lambda: f"{len(set(during) - node.local_intents())} intents not durable locally")
        wait_for(lambda: node.ready()["checks"]["mirror"].get("degraded") is True, DEADLINE,
                 "readiness never said the mirror is degraded")
        detail = node.ready()["checks"]["mirror"]["detail"]
        assert not (set(during) & delivered(fake))
        down_status = node.mirror_status()
        assert down_status["depth"] == 300 and "error" in down_status["cluster"]
        own_engine.start()  # same port, empty (no persistence): the group is made again
        took = wait_for(lambda: set(during) <= delivered(fake), DEADLINE,
                        lambda: f"{len(set(during) - delivered(fake))} held intents never reached Xandr")
        wait_for(lambda: not node.local_intents(), DEADLINE, "the local outbox never emptied")
        wait_for(lambda: "degraded" not in node.ready()["checks"]["mirror"], DEADLINE,
                 "readiness stayed degraded")
        with capsys.disabled():
            print(f"\nengine down: 300 intents held locally ({detail!r}); "
                  f"delivered {took:.1f} s after it came back")
    finally:
        node.stop()
