"""``Mirror`` and ``segment-server mirror …`` with ``[cluster]`` on, in-process, on the real engine.

The hot path is the single-node one (``offer`` appends to memory); these tests follow an offered
intent through the flush, the forwarder, the stream and the sender to the fake Xandr, and read the
shared state the way every node's status does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from typer.testing import CliRunner

from segments.taxonomy import Segment, XandrMapping
from server.cluster import ClusterSettings
from server.cluster.engine import connect
from server.cluster.stream import StreamKeys, StreamOutbox
from server.cluster.stream_rate import SharedRate
from server.mirror.cli import app
from server.mirror.outbox import Outbox
from server.mirror.queue import Mirror
from server.mirror.settings import MirrorSettings
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr
from tests.serverproc import toml_text

CARS = Segment(id="cars", xandr=XandrMapping(seg_id=101, expiration=1440))
runner = CliRunner()


def mirror_settings(data_dir: Path) -> MirrorSettings:
    return MirrorSettings(enabled=True, data_dir=data_dir, api_url="https://api.test",
                          streaming_url="https://streaming.test", username="mirror-user", password="s3cret",
                          member_id=1234, idle_poll=0.01, lease_seconds=1.0)


async def until(condition: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < deadline_s, what
        await asyncio.sleep(0.02)


def test_offer_reaches_xandr_through_the_stream_and_status_shows_the_shared_state(
        cluster: ClusterSettings, tmp_path: Path) -> None:
    fake = FakeXandr(posts_per_second=1e6, users_per_second=1e9)

    async def main() -> None:
        mirror = Mirror(mirror_settings(tmp_path), transport=fake.transport(), cluster=cluster)
        await mirror.start()
        try:
            mirror.offer([(f"x{i}", None) for i in range(50)], [CARS])
            await until(lambda: len(fake.memberships) == 50, "the offered users never reached Xandr")
            await until(lambda: (s := mirror.cluster_status()) is not None and
                        s["stream"].get("sent_last_5min") == 50, "status never showed the delivery")
            status = mirror.cluster_status()
            assert status is not None and status["forwarding"] is True
            stream = status["stream"]
            assert stream["stream_length"] == 0 and stream["pending"] == {} and stream["duplicates"] == 0
            assert stream["lease_holder"] == status["sender"] and stream["dead_letters"] == {}
            assert mirror.cluster_readiness() == (True, "forwarding to the engine's stream", False)
            assert mirror.outbox.depth() == 0, "forwarded rows leave the local outbox"
        finally:
            await mirror.stop()

    asyncio.run(main())


def test_the_shared_bucket_takes_both_budgets_or_neither(cluster: ClusterSettings) -> None:
    async def main() -> None:
        engine = connect(cluster)
        keys = StreamKeys.of(cluster.key_prefix, 1)
        rate = SharedRate(engine, keys, posts_per_second=2, users_per_second=10)
        assert await rate.try_acquire(10) == 0.0  # a full second's worth of users: the burst
        assert await rate.try_acquire(1) > 0, "users spent: no POST, even though posts budget is left"
        other = SharedRate(engine, keys, posts_per_second=2, users_per_second=10)
        assert await other.try_acquire(1) > 0, "the budget is the member's, not the process's"
        await engine.aclose()

    asyncio.run(main())


def test_a_takeover_forgets_idle_past_senders_but_never_one_with_pending_entries(
        cluster: ClusterSettings, tmp_path: Path) -> None:
    async def main() -> None:
        engine = connect(cluster)
        stream = StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, 1))
        await stream.ensure_group()
        await engine.xadd(stream.keys.stream, {"v": "[]"})
        await engine.xgroup_createconsumer(stream.keys.stream, "senders", "gone")
        await engine.xreadgroup("senders", "holding", {stream.keys.stream: ">"}, count=1)
        assert await stream.prune_consumers(keep="me", idle_ms=0) == 1
        assert (await stream.status()).pending == {"holding": 1}
        await engine.aclose()

    asyncio.run(main())


def test_cli_status_retry_and_remove_use_the_engine(cluster: ClusterSettings, tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text(toml_text({"store": {"data_dir": tmp_path / "data"},
                                 "cluster": {"enabled": True, "url": cluster.url,
                                             "key_prefix": cluster.key_prefix},
                                 "mirror": {"member_id": 1234}}))

    async def dead_letter_one() -> None:
        engine = connect(cluster)
        stream = StreamOutbox(engine, StreamKeys.of(cluster.key_prefix, 1234))
        await stream.ensure_group()
        sid = await engine.xadd(stream.keys.stream, {"v": '["u1", null, null, "x", null, null, null, 0]'})
        await stream.dead_letter([str(sid)], "missing_segment_id", "'seg_id' or 'seg_code' …")
        await engine.aclose()

    asyncio.run(dead_letter_one())
    result = runner.invoke(app, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    shared = orjson.loads(result.output)["cluster"]
    assert shared["dead_letters"] == {"missing_segment_id": 1} and shared["stream_length"] == 0
    result = runner.invoke(app, ["retry-dead-letters", "--config", str(config)])
    assert result.exit_code == 0 and "requeued 1" in result.output, result.output
    result = runner.invoke(app, ["remove", "--config", str(config), "--user", "u2", "--segment", "101"])
    assert result.exit_code == 0 and "1 outbox rows forwarded" in result.output, result.output
    shared = orjson.loads(runner.invoke(app, ["status", "--config", str(config), "--json"]).output)["cluster"]
    assert shared["stream_length"] == 2 and shared["dead_letters"] == {}
    box = Outbox(tmp_path / "data")
    assert box.depth() == 0
    box.close()


def test_cli_status_says_when_the_engine_is_unreachable(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text(toml_text({"store": {"data_dir": tmp_path / "data"},
                                 "cluster": {"enabled": True, "url": "redis://127.0.0.1:1/0",
                                             "connect_timeout_s": 0.2}}))
    box = Outbox(tmp_path / "data")
    box.add_many([("u1", None, SegBlock(seg_id=1))])
    box.close()
    result = runner.invoke(app, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.output)
    assert doc["depth"] == 1 and "engine unreachable" in doc["cluster"]["error"]
