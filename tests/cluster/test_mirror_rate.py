"""Xandr's per-member ceilings hold for two senders at once: the leaky buckets live in the engine.

Two senders drain one member's stream concurrently (``drain_once`` skips the lease on purpose, as
a holder that lost its lease mid-request would), with small ceilings so the backlog outlasts the
burst. The fake Xandr logs every POST's arrival; the check is on counts per window, with the bound
the bucket model gives (capacity = one second's worth: at most ``rate × (W + 1)`` in any window of
W seconds) plus a stated allowance — two independent local buckets would allow twice that.
"""

from __future__ import annotations

import asyncio
import bisect
from pathlib import Path

import pytest

from server.cluster import ClusterSettings
from server.cluster.engine import connect
from server.cluster.stream import StreamKeys, StreamOutbox
from server.cluster.stream_forward import Forwarder, make_stream_sender
from server.cluster.stream_source import StreamSource
from server.mirror.outbox import Outbox
from server.mirror.settings import MirrorSettings
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr

POSTS_PER_S, USERS_PER_S = 20.0, 100.0
USERS_PER_POST = 5  # fetch_size: both ceilings bind at once (20 × 5 = 100)
N_USERS = 400
WINDOW_S = 2.0
#: Arrival jitter at the fake (an event loop shared by two senders on a loaded 2-core box).
POSTS_ALLOWANCE, USERS_ALLOWANCE = 2, 2 * USERS_PER_POST


def max_in_window(log: list[tuple[float, int]], window: float) -> tuple[int, int]:
    """The most POSTs and users arriving in any ``window`` seconds (windows start at an arrival)."""
    times = [t for t, _ in log]
    users = [0]
    for _, n in log:
        users.append(users[-1] + n)
    posts_max = users_max = 0
    for i, start in enumerate(times):
        j = bisect.bisect_left(times, start + window)
        posts_max = max(posts_max, j - i)
        users_max = max(users_max, users[j] - users[i])
    return posts_max, users_max


def test_two_contending_senders_stay_under_the_shared_ceiling(
        cluster: ClusterSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeXandr(posts_per_second=POSTS_PER_S, users_per_second=USERS_PER_S)
    settings = MirrorSettings(enabled=True, data_dir=tmp_path, api_url="https://api.test",
                              streaming_url="https://streaming.test", username="mirror-user",
                              password="s3cret",
                              member_id=1234, posts_per_second=POSTS_PER_S, users_per_second=USERS_PER_S,
                              fetch_size=USERS_PER_POST, backoff_initial=0.05, backoff_max=0.5)
    sources: list[StreamSource] = []

    async def main() -> None:
        engine = connect(cluster)
        stream = StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, settings.member_id))
        await stream.ensure_group()
        local = Outbox(tmp_path)
        local.add_many([(f"u{i}", None, SegBlock(seg_id=101)) for i in range(N_USERS)])
        await Forwarder(local, stream, "node", 1_000_000).forward_once()
        senders = [make_stream_sender(settings, stream, local, fake.transport()) for _ in range(2)]

        async def drain(sender_index: int) -> None:
            sender = senders[sender_index]
            while (await stream.status()).stream_length:
                await sender.drain_once()
                await asyncio.sleep(0)

        await asyncio.gather(drain(0), drain(1))
        for sender in senders:
            assert isinstance(sender.source, StreamSource)
            sources.append(sender.source)
            await sender.aclose()
        local.close()
        await engine.aclose()

    asyncio.run(main())
    assert {uid for uid, _ in fake.memberships} == {f"u{i}" for i in range(N_USERS)}
    posts, users = max_in_window(fake.post_log, WINDOW_S)
    span = fake.post_log[-1][0] - fake.post_log[0][0]
    with capsys.disabled():
        print(f"\ntwo senders, shared ceiling {POSTS_PER_S:g} POST/s, {USERS_PER_S:g} users/s: "
              f"{len(fake.post_log)} POSTs in {span:.1f} s; most in {WINDOW_S:g} s: {posts} POSTs, "
              f"{users} users; bucket waits per sender {[s.rate.waits for s in sources]}; "
              f"fake's violations {len(fake.violations)}")
    assert all(s.rate.waits > 0 for s in sources), "both senders were held back: they did contend"
    assert posts <= POSTS_PER_S * (WINDOW_S + 1) + POSTS_ALLOWANCE, posts
    assert users <= USERS_PER_S * (WINDOW_S + 1) + USERS_ALLOWANCE, users
