"""The hot-path seam: offer() is pure memory; the flusher makes it durable within 100 ms."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from segments.taxonomy import Segment, XandrMapping
from server.mirror.outbox import Outbox
from server.mirror.queue import Mirror, intent_rows
from server.mirror.settings import MirrorSettings
from tests.fakes.xandr import FakeXandr, Fault
from tests.mirror.conftest import run, with_

S1 = Segment(id="s1", xandr=XandrMapping(seg_id=10001, value=1, expiration=1440))
S2 = Segment(id="s2", xandr=XandrMapping(seg_code="abcd", member_id=1661, value=1, expiration=1440))
PLAIN = Segment(id="s3")


def rows(outbox: Outbox) -> list[tuple[str, str | None, int | None, int | None]]:
    return [(i.user_id, i.domain, i.block.seg_id, i.block.expiration) for i in outbox.fetch(10_000)]


def test_offer_reaches_outbox_within_flush_interval(settings: MirrorSettings) -> None:
    mirror = Mirror(with_(settings, embedded_sender=False))

    async def go() -> None:  # the flusher commits without a stop(); how soon is the e2e layer's and bench's
        await mirror.start()
        mirror.offer([("x1", None), ("idfa-1", "idfa")], [S1, S2, PLAIN])
        deadline = time.monotonic() + 10  # a cap for a stuck flusher, not a measurement
        while mirror.outbox.depth() < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        assert mirror.outbox.depth() == 4
        await mirror.stop()
    run(go())
    box = Outbox(settings.data_dir)
    expected = [("idfa-1", "idfa", 10001, 1440), ("idfa-1", "idfa", None, 1440),
                ("x1", None, 10001, 1440), ("x1", None, None, 1440)]
    assert sorted(rows(box), key=str) == sorted(expected, key=str)
    box.close()


def test_stop_flushes_everything(settings: MirrorSettings) -> None:
    mirror = Mirror(with_(settings, embedded_sender=False))

    async def go() -> None:
        await mirror.start()
        for i in range(5000):
            mirror.offer([(f"u{i}", None)], [S1])
        await mirror.stop()  # no wait: graceful stop must flush
    run(go())
    box = Outbox(settings.data_dir)
    assert box.depth() == 5000
    box.close()


def test_dedup_and_invalid_users(settings: MirrorSettings) -> None:
    mirror = Mirror(with_(settings, embedded_sender=False))

    async def go() -> None:
        await mirror.start()
        for _ in range(3):
            mirror.offer([("x1", None), ("", None), ("d", "uid2")], [S1])
        await mirror.stop()
    run(go())
    box = Outbox(settings.data_dir)
    assert rows(box) == [("x1", None, 10001, 1440)]
    box.close()


def test_remove_sends_minus_one_and_bypasses_dedup(settings: MirrorSettings) -> None:
    mirror = Mirror(with_(settings, embedded_sender=False))

    async def go() -> None:
        await mirror.start()
        mirror.offer([("x1", None)], [S1])
        mirror.remove([("x1", None)], [S1])
        mirror.offer([("x1", None)], [S1])  # re-added after removal: not deduped
        await mirror.stop()
    run(go())
    box = Outbox(settings.data_dir)
    assert rows(box) == [("x1", None, 10001, 1440), ("x1", None, 10001, -1), ("x1", None, 10001, 1440)]
    box.close()


def test_intent_rows_for_outside_jobs() -> None:
    got = intent_rows([("x1", None), ("", None)], [S1, PLAIN], remove=True)
    assert [(u, d, b.seg_id, b.expiration) for u, d, b in got] == [("x1", None, 10001, -1)]


def test_disabled_is_a_no_op(tmp_path: Path) -> None:
    mirror = Mirror(MirrorSettings(data_dir=tmp_path))

    async def go() -> None:
        await mirror.start()
        mirror.offer([("x1", None)], [S1])
        await mirror.stop()
    run(go())
    assert not (tmp_path / "mirror-outbox.sqlite3").exists()


def test_buffer_is_bounded(settings: MirrorSettings) -> None:
    mirror = Mirror(with_(settings, embedded_sender=False, max_buffer=100))
    for i in range(1000):  # not started: nothing drains the buffer
        mirror.offer([(f"u{i}", None)], [S1])
    assert len(mirror._buffer) == 100


def test_offer_does_not_depend_on_xandr(settings: MirrorSettings) -> None:
    """Xandr down (every call 503): offer() still takes every intent and the outbox keeps them all.
    Its cost (µs, up or down) is measured by loadtest/bench_mirror.py, not asserted here."""
    down = FakeXandr()
    down.inject(*[Fault.SERVER_ERROR] * 100_000)
    mirror = Mirror(with_(settings, dedup_fraction=0.0), transport=down.transport())

    async def go() -> None:
        await mirror.start()
        for i in range(3000):
            mirror.offer([(f"u{i}", None)], [S1, S2])
            if i % 100 == 0:
                await asyncio.sleep(0)
        await mirror.stop(sender_grace=0.5)
    run(go())
    box = Outbox(settings.data_dir)
    assert box.depth() == 6000 and down.users_delivered == 0
    box.close()


def test_embedded_sender_delivers(settings: MirrorSettings) -> None:
    fake = FakeXandr()
    mirror = Mirror(settings, transport=fake.transport())

    async def go() -> None:
        await mirror.start()
        mirror.offer([("x1", None), ("a-1", "aaid")], [S1])
        for _ in range(200):
            if fake.users_delivered == 2:
                break
            await asyncio.sleep(0.02)
        await mirror.stop()
    run(go())
    assert fake.segments_of("a-1", "aaid") == {(10001, None, None): (1, 1440)}
