from __future__ import annotations

from pathlib import Path

from server.mirror.outbox import Outbox
from server.mirror.types import SegBlock
from tests.fakes.clock import FakeClock

B1 = SegBlock(seg_id=10001, value=1, expiration=1440)
B2 = SegBlock(seg_code="abcd", member_id=1661, value=1, expiration=1440)


def test_intents_survive_reopen_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.add_many([("u1", None, B1), ("idfa-1", "idfa", B2)])
    box.close()  # a new process (the sender) sees the committed rows
    again = Outbox(tmp_path)
    got = again.fetch(10)
    assert [(i.user_id, i.domain, i.block) for i in got] == [("u1", None, B1), ("idfa-1", "idfa", B2)]
    again.delete([got[0].id])
    assert [i.user_id for i in again.fetch(10)] == ["idfa-1"]
    again.close()


def test_wal_mode(outbox: Outbox) -> None:
    import sqlite3

    conn = sqlite3.connect(outbox.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_dead_letter_and_retry(outbox: Outbox) -> None:
    outbox.add_many([("u1", None, B1), ("u2", None, B1), ("u3", None, B2)])
    ids = [i.id for i in outbox.fetch(10)]
    outbox.dead_letter(ids[:2], "no_valid_segments", "No valid segments for user_id: u1.")
    outbox.dead_letter(ids[2:], "missing_segment_id")
    stats = outbox.stats()
    assert stats.depth == 0
    assert stats.dead_letters == {"no_valid_segments": 2, "missing_segment_id": 1}
    assert [r for _, r, _ in outbox.dead_letters()] == ["no_valid_segments", "no_valid_segments",
                                                        "missing_segment_id"]
    assert outbox.retry_dead_letters("missing_segment_id") == 1
    assert outbox.stats().dead_letters == {"no_valid_segments": 2}
    assert outbox.retry_dead_letters() == 2
    assert sorted(i.user_id for i in outbox.fetch(10)) == ["u1", "u2", "u3"]


def test_lease_one_holder_until_it_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    a, b = Outbox(tmp_path, clock), Outbox(tmp_path, clock)  # two processes' connections
    assert a.acquire_lease("A", ttl=15)
    assert not b.acquire_lease("B", ttl=15)
    clock.advance(10)
    assert a.acquire_lease("A", ttl=15)  # renewal
    clock.advance(14)
    assert not b.acquire_lease("B", ttl=15)
    clock.advance(2)  # A died (kill -9): no renewal for > ttl
    assert b.acquire_lease("B", ttl=15)
    assert not a.acquire_lease("A", ttl=15)
    b.release_lease("B")
    assert a.acquire_lease("A", ttl=15)
    a.close()
    b.close()


def test_stats_age_sent_auth(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path, clock)
    box.add_many([("u1", None, B1)])
    clock.advance(42)
    box.record_sent(600)
    box.record_auth("ok")
    s = box.stats()
    assert (s.depth, s.oldest_age, s.sent_last_5min) == (1, 42, 600)
    assert s.last_auth == (clock.now, "ok")
    assert s.sent_per_second == 2.0
    box.close()
