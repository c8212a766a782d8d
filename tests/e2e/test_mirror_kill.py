"""README → Xandr mirror, loss window: "``kill -9`` of a worker loses at most the last
``flush_interval`` (≤ 100 ms) of offered intents".

``serve --workers 2`` mirrors to the fake Xandr on loopback. While ``/rtd`` traffic with distinct
Xandr user ids flows, the worker holding the embedded sender's lease (read from the outbox's lease
row) gets SIGKILL. Afterwards the fake is asked which users arrived: every user whose ``/rtd`` was
answered earlier than the loss window before the kill must be there (a surviving worker takes the
lease over after ``lease_seconds`` and drains the outbox).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.harness import Server, post_fresh, run_cli, start_server, wait_for
from tests.fakes.xandr import FakeXandr, LoopbackServer

FLUSH_INTERVAL = 0.1  # the documented window (mirror.flush_interval, ≤ 0.1 enforced)
# A flush is an asyncio task in a worker sharing 2 cores with the test and the neighbours: it may
# start this much late. The claim tested is "a bounded, sub-second window", with the bound stated.
SCHEDULING_ALLOWANCE = 0.2
N_USERS = 1500
KILL_AFTER = 800  # answered requests before the kill: it lands in the middle of the traffic
DRAIN_DEADLINE = 90.0
PACE = 0.005  # per request and thread: ~600 req/s, so the window before the kill holds few of them


def _xandr_id(i: int) -> str:
    return str(7_000_000_000 + i)


@pytest.fixture
def mirrored(tmp_path: Path) -> Iterator[tuple[Server, FakeXandr]]:
    fake = FakeXandr()
    rows = tmp_path / "rows"
    rows.mkdir()
    (rows / "taxonomy.jsonl").write_text(
        json.dumps({"id": "cars", "name": "Cars", "xandr": {"seg_id": 101, "expiration": 1440}}) + "\n")
    (rows / "members.csv").write_text("kind,key,segments,expires\nurl,example.com/cars,cars,\n")
    with LoopbackServer(fake) as base:
        tables = {"mirror": {"enabled": True, "api_url": base, "streaming_url": base,
                             "username": fake.username, "password": fake.password, "lease_seconds": 2.0,
                             "idle_poll": 0.05, "backoff_initial": 0.1, "backoff_max": 1.0},
                  "auth": {"rtd_enabled": False}}
        server = start_server(tmp_path / "srv", workers=2, tables=tables, demo_users=None, ready=None)
        server.wait_ready(200, "/health/live")  # ready only once data is loaded (README, Operating)
        loaded = run_cli(server.config, "load", "--replace", "--taxonomy", str(rows / "taxonomy.jsonl"),
                         str(rows / "members.csv"))
        assert loaded.returncode == 0, loaded.stderr
        page = json.dumps({"site": {"page": "https://example.com/cars/x"}}).encode()
        def every_worker_serves_it() -> bool:  # 20 fresh connections in a row: both workers switched
            return all(json.loads(post_fresh(server.port, "/rtd", page)[1])["segment_ids"] == ["cars"]
                       for _ in range(20))

        wait_for(every_worker_serves_it, 30, "the loaded snapshot is never served by every worker")
        try:
            yield server, fake
        finally:
            server.stop()


def _sender_pid(server: Server) -> int:
    holder: list[str] = []

    def leased() -> bool:
        path = server.data_dir / "mirror-outbox.sqlite3"
        if not path.exists():
            return False
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT holder FROM lease WHERE name = 'sender' AND expires >= ?",
                               (time.time(),)).fetchone()
        holder[:] = [row[0]] if row else []
        return bool(holder)

    wait_for(leased, 30, "no worker took the sender lease")
    return int(holder[0].split(":")[1])  # holder = host:pid:uuid (server/mirror/sender.py)


def _answered_until_killed(server: Server, pid: int) -> tuple[dict[str, float], float]:
    """Distinct Xandr users over fresh connections; SIGKILL the sender worker mid-stream.
    Returns {user: monotonic time its 200 arrived} and the time the kill was sent."""
    answered: dict[str, float] = {}
    lock = threading.Lock()
    killed_at: list[float] = []

    def call(i: int) -> None:
        time.sleep(PACE)
        body = {"site": {"page": "https://example.com/cars/x"},
                "user": {"eids": [{"source": "adnxs.com", "uids": [{"id": _xandr_id(i)}]}]}}
        try:
            status, answer = post_fresh(server.port, "/rtd", json.dumps(body).encode())
        except (OSError, http.client.HTTPException):
            return  # the killed worker's connections
        if status == 200 and json.loads(answer)["segment_ids"] == ["cars"]:
            with lock:
                answered[_xandr_id(i)] = time.monotonic()
                if len(answered) == KILL_AFTER and not killed_at:
                    killed_at.append(time.monotonic())
                    os.kill(pid, signal.SIGKILL)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, range(N_USERS)))
    assert killed_at, f"only {len(answered)} requests answered"
    return answered, killed_at[0]


def test_kill_9_of_the_sender_worker_loses_at_most_the_flush_window(
        mirrored: tuple[Server, FakeXandr]) -> None:
    server, fake = mirrored
    pid = _sender_pid(server)
    assert pid != server.proc.pid, "with --workers 2 the sender runs in a worker, not the supervisor"
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert ppid == server.proc.pid, \
        "the lease holder must be a worker of this server (never kill anything else)"
    answered, killed_at = _answered_until_killed(server, pid)
    # A 200 read just after the kill may still be the killed worker's: it was written before SIGKILL
    # landed and read later (or its thread waited for the lock). Only answers read well after the kill
    # are surely the survivor's, whose intents must all arrive.
    after_kill = [u for u, t in answered.items() if t > killed_at + SCHEDULING_ALLOWANCE]
    assert after_kill, "traffic went on after the kill (the surviving worker kept answering)"
    must_arrive = {u for u, t in answered.items() if t <= killed_at - FLUSH_INTERVAL - SCHEDULING_ALLOWANCE}
    assert len(must_arrive) >= KILL_AFTER // 4, "the kill must land well after the traffic began"

    def delivered() -> set[str]:
        return {uid for uid, domain in fake.memberships if domain is None}

    wait_for(lambda: must_arrive <= delivered(), DRAIN_DEADLINE,
             lambda: f"{len(must_arrive - delivered())} intents answered before the window "
                     "never reached Xandr")
    wait_for(lambda: set(after_kill) <= delivered(), DRAIN_DEADLINE,
             lambda: f"{len(set(after_kill) - delivered())} intents of the surviving worker missing")
    lost = set(answered) - delivered()
    assert all(answered[u] > killed_at - FLUSH_INTERVAL - SCHEDULING_ALLOWANCE for u in lost), lost
    assert fake.violations == []
    assert all(fake.segments_of(uid) for uid in must_arrive)
    assert fake.password not in server.output()


def test_graceful_shutdown_keeps_every_offered_intent(mirrored: tuple[Server, FakeXandr]) -> None:
    """README: "a graceful shutdown flushes everything" — SIGTERM right after the traffic; each
    answered user is then either at Xandr or durable in the outbox for the next sender."""
    server, fake = mirrored
    answered: list[str] = []

    def call(i: int) -> None:
        body = {"site": {"page": "https://example.com/cars/x"},
                "user": {"eids": [{"source": "adnxs.com", "uids": [{"id": _xandr_id(i)}]}]}}
        status, answer = post_fresh(server.port, "/rtd", json.dumps(body).encode())
        assert status == 200 and json.loads(answer)["segment_ids"] == ["cars"], (status, answer)
        answered.append(_xandr_id(i))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, range(400)))
    assert len(answered) == 400
    assert server.stop(signal.SIGTERM) == 0, server.tail()
    with sqlite3.connect(server.data_dir / "mirror-outbox.sqlite3") as conn:
        queued = {row[0] for row in conn.execute("SELECT user_id FROM intents WHERE domain IS NULL")}
    delivered = {uid for uid, domain in fake.memberships if domain is None}
    assert set(answered) <= delivered | queued, f"{len(set(answered) - delivered - queued)} intents lost"
