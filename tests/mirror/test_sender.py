"""The drain loop against the fake: delivery, warnings → dead letters, resend, retries, limits."""

from __future__ import annotations

import asyncio

import pytest

from server.mirror.outbox import Outbox
from server.mirror.settings import MirrorSettings
from server.mirror.source import LocalSource
from server.mirror.types import SegBlock
from tests.fakes.xandr import FakeXandr, Fault
from tests.mirror.conftest import SenderFactory, run, with_

ADD = SegBlock(seg_id=10001, value=1, expiration=1440)


def drain(sender_and_sleeps: tuple[object, list[float]], rounds: int = 10) -> list[float]:
    sender, slept = sender_and_sleeps

    async def go() -> None:
        for _ in range(rounds):
            await sender.drain_once()  # type: ignore[attr-defined]
    run(go())
    return slept


def test_delivers_and_deletes_only_after_success(outbox: Outbox, fake: FakeXandr,
                                                 make_sender: SenderFactory) -> None:
    outbox.add_many([(f"u{i}", None, ADD) for i in range(1200)] + [("idfa-1", "idfa", ADD)])
    drain(make_sender(), rounds=1)
    assert outbox.depth() == 0
    assert fake.users_delivered == 1201 and fake.violations == []
    assert fake.segments_of("idfa-1", "idfa") == {(10001, None, None): (1, 1440)}
    assert outbox.stats().sent_last_5min == 1201


def test_removal_reaches_xandr(outbox: Outbox, fake: FakeXandr, make_sender: SenderFactory) -> None:
    outbox.add_many([("u1", None, ADD)])
    drain(make_sender(), rounds=1)
    outbox.add_many([("u1", None, SegBlock(seg_id=10001, value=1, expiration=-1))])
    drain(make_sender(), rounds=1)
    assert fake.segments_of("u1") == {}


@pytest.mark.parametrize(("rows", "dead", "delivered"), [
    pytest.param([("u1", None, SegBlock(seg_code="abc", value=1, expiration=1))],
                 {"missing_segment_id": 1}, 0, id="seg_code without member_id (seed)"),
    pytest.param([("u1", None, SegBlock(seg_code="abc", value=1, expiration=1)), ("u1", None, ADD)],
                 {"missing_segment_id": 1}, 1, id="one bad block, user still valid"),
    pytest.param([("", None, ADD)], {"empty_user_id": 1}, 0, id="empty user_id (seed)"),
    pytest.param([("u1", None, SegBlock(seg_code="abc", value=1)), ("u2", None, ADD)],
                 {"missing_segment_id": 1}, 1, id="bad user next to a good one"),
])
def test_warnings_become_dead_letters(outbox: Outbox, fake: FakeXandr, make_sender: SenderFactory,
                                      rows: list[tuple[str, str | None, SegBlock]], dead: dict[str, int],
                                      delivered: int) -> None:
    outbox.add_many(rows)
    drain(make_sender(), rounds=1)
    stats = outbox.stats()
    assert stats.depth == 0
    assert stats.dead_letters == dead
    assert fake.users_delivered == delivered
    assert all(message for _, _, message in outbox.dead_letters())


def test_users_cut_by_1000_limit_are_resent(outbox: Outbox, fake: FakeXandr, make_sender: SenderFactory,
                                            settings: MirrorSettings) -> None:
    outbox.add_many([(f"u{i}", None, ADD) for i in range(1500)])
    from aiolimiter import AsyncLimiter

    sender, slept = make_sender()
    sender._max_users = 1500  # pretend the batcher were wrong, so Xandr cuts at 1000
    assert isinstance(sender.source, LocalSource)
    sender.source.rate_limiters = lambda: (AsyncLimiter(100), AsyncLimiter(10_000))  # type: ignore[method-assign]
    drain((sender, slept), rounds=1)
    assert outbox.depth() == 500 and outbox.stats().dead_letters == {}
    drain((sender, slept), rounds=1)
    assert outbox.depth() == 0 and fake.users_delivered == 1500
    assert len(fake.memberships) == 1500


@pytest.mark.parametrize(("faults", "min_wait"), [
    pytest.param([Fault.SERVER_ERROR, Fault.SERVER_ERROR], 0.0, id="5xx twice"),
    pytest.param([Fault.TIMEOUT], 0.0, id="timeout"),
    pytest.param([Fault.DROP], 0.0, id="dropped connection"),
    pytest.param([Fault.RATE_LIMITED], 2.0, id="429 honours Retry-After: 2"),
])
def test_retries_with_backoff(outbox: Outbox, fake: FakeXandr, make_sender: SenderFactory,
                              faults: list[Fault], min_wait: float) -> None:
    outbox.add_many([("u1", None, ADD)])
    fake.inject(*faults)
    slept = drain(make_sender(), rounds=1)
    assert outbox.depth() == 0 and fake.users_delivered == 1
    assert sum(slept) >= min_wait
    statuses = [s for p, s in fake.log if p == "/rt-segment"]
    assert statuses[-1] == 200 and len(statuses) == len(faults) + 1


def test_backoff_grows_and_is_capped() -> None:
    from server.mirror.sender import backoff_delay

    delays = [backoff_delay(a, 0.5, 60, None, rng=lambda: 1.0) for a in range(1, 10)]
    assert delays == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(1, 0.5, 60, 7.0, rng=lambda: 0.3) == 7.0
    assert backoff_delay(3, 0.5, 60, None, rng=lambda: 0.5) == 1.0  # full jitter


def test_stop_during_outage_keeps_everything(outbox: Outbox, fake: FakeXandr,
                                             make_sender: SenderFactory) -> None:
    outbox.add_many([("u1", None, ADD)])
    fake.inject(*[Fault.SERVER_ERROR] * 1000)
    sender, _ = make_sender()

    async def go() -> None:
        task = asyncio.create_task(sender.run())
        await asyncio.sleep(0.2)
        sender.stop()
        await asyncio.wait_for(task, 2)
    run(go())
    assert outbox.depth() == 1


def test_rate_limits_respected(outbox: Outbox, make_sender: SenderFactory, settings: MirrorSettings) -> None:
    """The fake enforces 1000 users/s and 20 POST/s (leaky buckets): nothing is refused, which is
    the check; how long the drain takes is a measurement, not an assertion."""
    strict = FakeXandr(posts_per_second=20, users_per_second=1000)
    from server.mirror.client import XandrClient
    from server.mirror.sender import Sender

    s = with_(settings, posts_per_second=20)
    sender = Sender(s, outbox, XandrClient(s, XandrClient.make_http(s, strict.transport()), auth_log=outbox))
    outbox.add_many([(f"u{i}", None, ADD) for i in range(2500)])
    run(sender.drain_once())
    assert strict.users_delivered == 2500 and strict.violations == []


def test_lease_keeps_second_sender_idle(outbox: Outbox, fake: FakeXandr, make_sender: SenderFactory) -> None:
    _a, _ = make_sender(holder="A")
    b, _ = make_sender(holder="B")
    assert outbox.acquire_lease("A", 15)
    outbox.add_many([("u1", None, ADD)])

    async def go() -> None:
        task = asyncio.create_task(b.run())
        await asyncio.sleep(0.2)
        b.stop()
        await task
    run(go())
    assert fake.users_delivered == 0 and outbox.depth() == 1
