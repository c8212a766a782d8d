"""The mirror's shared outbox on a real engine, in-process: forward, drain, settle, claim, dead letters.

The sender talks to the fake Xandr through ``httpx.MockTransport``; the engine is the session's
real ``redis-server`` under a key prefix of this test's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from server.cluster import ClusterSettings
from server.cluster.engine import connect
from server.cluster.stream import StreamKeys, StreamOutbox
from server.cluster.stream_forward import Forwarder, make_stream_sender
from server.cluster.stream_source import StreamSource
from server.mirror.outbox import Outbox
from server.mirror.sender import Sender
from server.mirror.settings import MirrorSettings
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr

ADD = SegBlock(seg_id=101, expiration=1440)


@pytest.fixture
def settings(tmp_path: Path) -> MirrorSettings:
    return MirrorSettings(enabled=True, data_dir=tmp_path / "node", api_url="https://api.test",
                          streaming_url="https://streaming.test", username="mirror-user", password="s3cret",
                          member_id=1234, backoff_initial=0.01, backoff_max=0.05, idle_poll=0.01,
                          lease_seconds=0.3)


def run_with_stream(cluster: ClusterSettings, settings: MirrorSettings,
                    body: Callable[[StreamOutbox, Outbox], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = connect(cluster)
        stream = StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, settings.member_id))
        await stream.ensure_group()
        local = Outbox(settings.data_dir)
        try:
            await body(stream, local)
        finally:
            local.close()
            await engine.aclose()

    asyncio.run(main())


def sender_on(settings: MirrorSettings, stream: StreamOutbox, local: Outbox, fake: FakeXandr,
              holder: str) -> Sender:
    sender = make_stream_sender(settings, stream, local, fake.transport())
    sender.holder = holder
    return sender


async def drain(sender: Sender, rounds: int = 20) -> None:
    for _ in range(rounds):
        if await sender.drain_once() == 0:
            return


def test_forwarding_is_idempotent_per_node(cluster: ClusterSettings, settings: MirrorSettings) -> None:
    """A node killed between XADD and its local delete re-forwards the rows: the mark skips them."""
    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([(f"u{i}", None, ADD) for i in range(1200)])
        rows = local.fetch(10_000)
        done, full = await stream.forward("node-a", rows, 1_000_000)  # then "killed": nothing deleted
        assert sorted(done) == sorted(r.id for r in rows) and not full
        forwarder = Forwarder(local, stream, "node-a", 1_000_000)
        assert await forwarder.forward_once() == 1200  # deleted locally, not added again
        assert local.depth() == 0
        status = await stream.status()
        assert status.stream_length == 1200 and status.forwarded == {"node-a": max(r.id for r in rows)}

    run_with_stream(cluster, settings, body)


def test_a_full_stream_keeps_rows_local(cluster: ClusterSettings, settings: MirrorSettings) -> None:
    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([(f"u{i}", None, ADD) for i in range(700)])
        forwarder = Forwarder(local, stream, "node-a", 600)
        assert await forwarder.forward_once() == 700  # the first chunk fits under the cap: both go
        local.add_many([("late", None, ADD)])
        assert await forwarder.forward_once() == 0
        assert forwarder.state.stream_full and local.depth() == 1

    run_with_stream(cluster, settings, body)


def test_sender_drains_the_stream_and_settles_every_entry(cluster: ClusterSettings,
                                                          settings: MirrorSettings) -> None:
    fake = FakeXandr(posts_per_second=1e6, users_per_second=1e9)

    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([(f"u{i}", None, ADD) for i in range(1500)] + [("", None, ADD)])
        await Forwarder(local, stream, "node-a", 1_000_000).forward_once()
        sender = sender_on(settings, stream, local, fake, "sender-a")
        assert await sender.source.take_lease(sender.holder, 5)
        await drain(sender)
        status = await stream.status()
        assert status.stream_length == 0 and status.pending == {}, "XACK + XDEL after Xandr's OK"
        assert status.sent_last_5min == 1500 and status.lease_holder == "sender-a"
        assert status.duplicates == 0
        await sender.aclose()

    run_with_stream(cluster, settings, body)
    assert {uid for uid, _ in fake.memberships} == {f"u{i}" for i in range(1500)}


def test_warnings_dead_letter_atomically_and_retry_moves_them_back(cluster: ClusterSettings,
                                                                   settings: MirrorSettings) -> None:
    fake = FakeXandr(posts_per_second=1e6, users_per_second=1e9)
    bad = SegBlock(seg_code="no-member")  # "'seg_id' or 'seg_code' and 'member_id' are required"

    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([("u1", None, ADD), ("u2", None, bad)])
        await Forwarder(local, stream, "node-a", 1_000_000).forward_once()
        sender = sender_on(settings, stream, local, fake, "sender-a")
        await drain(sender)
        status = await stream.status()
        assert status.dead_letters == {"missing_segment_id": 1}, status
        assert status.stream_length == 0 and status.pending == {}
        assert [d["reason"] for d in await stream.dead_letters()] == ["missing_segment_id"]
        assert await stream.retry_dead_letters("no_valid_segments") == 0
        assert await stream.retry_dead_letters() == 1
        status = await stream.status()
        assert status.dead_letters == {} and status.stream_length == 1
        await sender.aclose()

    run_with_stream(cluster, settings, body)


def test_a_dead_senders_pending_entries_are_claimed_and_counted_as_duplicates(
        cluster: ClusterSettings, settings: MirrorSettings) -> None:
    fake = FakeXandr(posts_per_second=1e6, users_per_second=1e9)

    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([(f"u{i}", None, ADD) for i in range(50)])
        await Forwarder(local, stream, "node-a", 1_000_000).forward_once()
        dead = sender_on(settings, stream, local, fake, "killed")
        assert await dead.source.take_lease("killed", settings.lease_seconds)
        assert len(await dead.source.fetch(20)) == 20  # read, then "kill -9": never settled
        assert (await stream.status()).pending == {"killed": 20}
        survivor = sender_on(settings, stream, local, fake, "survivor")
        assert not await survivor.source.take_lease("survivor", 5), "one sender per member"
        for _ in range(200):  # the killed holder stops renewing: free after lease_seconds
            if await survivor.source.take_lease("survivor", 5):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(settings.lease_seconds)  # ...and its entries idle that long
        await drain(survivor)
        status = await stream.status()
        assert status.stream_length == 0 and status.pending == {}
        assert status.duplicates == 20 and isinstance(survivor.source, StreamSource)
        assert survivor.source.duplicates == 20
        await dead.aclose()
        await survivor.aclose()

    run_with_stream(cluster, settings, body)
    assert len(fake.memberships) == 50


def test_member_keys_share_the_cluster_hash_tag() -> None:
    keys = StreamKeys.of("segment-server", 1234)
    names = [keys.stream, keys.forwarded, keys.dead, keys.dead_counts, keys.duplicates, keys.sent(1),
             keys.rate("posts"), keys.lease]
    assert all(name.startswith("{segment-server}:") for name in names)
    assert keys.lease == "{segment-server}:lease:mirror-sender:1234"
    assert StreamKeys.of("p", None).stream == "{p}:mirror:default:stream"
    assert dataclasses.replace(keys, member="9").stream.endswith(":mirror:9:stream")


def test_own_unsettled_entries_are_reread_not_counted_as_duplicates(cluster: ClusterSettings,
                                                                    settings: MirrorSettings) -> None:
    """A batch the loop gave up on (stopping, auth failure) is read again by its own consumer."""
    fake = FakeXandr()

    async def body(stream: StreamOutbox, local: Outbox) -> None:
        local.add_many([(f"u{i}", None, ADD) for i in range(5)])
        await Forwarder(local, stream, "node-a", 1_000_000).forward_once()
        sender = sender_on(settings, stream, local, fake, "me")
        assert await sender.source.take_lease("me", 5)
        assert len(await sender.source.fetch(10)) == 5
        await asyncio.sleep(settings.lease_seconds + 0.1)  # idle long enough for XAUTOCLAIM
        again = await sender.source.fetch(10)
        assert sorted(i.user_id for i in again) == [f"u{i}" for i in range(5)]
        assert (await stream.status()).duplicates == 0
        await sender.aclose()

    run_with_stream(cluster, settings, body)
