"""kill -9 the sender mid-batch under load, restart it: every intent is delivered, none lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from server.mirror.outbox import Outbox
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr, LoopbackServer
from tests.serverproc import wait_for

ROOT = Path(__file__).resolve().parents[2]
ADD = SegBlock(seg_id=10001, value=1, expiration=1440)


def start_sender(base: str, data_dir: Path, secret: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SEGMENT_SERVER_MIRROR__LEASE_SECONDS="1.5",
               SEGMENT_SERVER_MIRROR__IDLE_POLL="0.05", SEGMENT_SERVER_MIRROR__BACKOFF_INITIAL="0.05",
               SEGMENT_SERVER_MIRROR__BACKOFF_MAX="0.5")
    return subprocess.Popen(
        [sys.executable, "-m", "server.mirror.cli", "run", "--data-dir", str(data_dir), "--api-url", base,
         "--streaming-url", base, "--username", "mirror-user", "--password-file", str(secret)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_kill_9_mid_batch_loses_nothing(tmp_path: Path) -> None:
    fake = FakeXandr(latency=0.3)  # a request stays in flight long enough to be killed inside it
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    box = Outbox(tmp_path)
    box.add_many([(f"u{i}", None, ADD) for i in range(2500)])
    expected = {f"u{i}" for i in range(4000)}

    def producer() -> None:  # load keeps arriving while the sender runs, is killed, restarts
        p = Outbox(tmp_path)
        for start in range(2500, 4000, 100):
            p.add_many([(f"u{i}", None, ADD) for i in range(start, start + 100)])
            time.sleep(0.05)
        p.close()

    with LoopbackServer(fake) as base:
        first = start_sender(base, tmp_path, secret)
        load = threading.Thread(target=producer)
        load.start()
        try:
            wait_for(lambda: fake.users_delivered >= 1000 and fake.in_flight > 0, 30,
                     lambda: (fake.log[-5:], fake.users_delivered, first.poll()), step_s=0.01)
            first.send_signal(signal.SIGKILL)  # a request is in flight: its batch is not yet deleted
            first.wait(5)
        finally:
            if first.poll() is None:
                first.kill()
        delivered_at_kill = fake.users_delivered
        second = start_sender(base, tmp_path, secret)
        try:
            load.join(10)
            wait_for(lambda: box.depth() == 0, 40)
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0
        finally:
            if second.poll() is None:
                second.kill()
        err = (second.stderr.read() if second.stderr else b"").decode()
    assert 0 < delivered_at_kill < 4000
    got = {uid for uid, _ in fake.memberships}
    assert got == expected, f"lost {len(expected - got)}"
    assert fake.users_delivered >= 4000  # at least once; the killed batch may be sent twice
    assert fake.violations == []
    assert "s3cret" not in err
    box.close()
