from __future__ import annotations

import pytest

from server.mirror.dedup import Dedup
from server.mirror.types import SegBlock
from tests.fakes.clock import FakeClock


@pytest.mark.parametrize(("expiration", "fraction", "fresh_seconds"), [
    pytest.param(1440, 0.5, 720 * 60, id="1 day at half"),
    pytest.param(60, 0.25, 15 * 60, id="1 hour at quarter"),
    pytest.param(0, 0.5, 43_200, id="never-expiring: daily re-assert at half"),
    pytest.param(None, 0.5, 43_200, id="member default: treated as never"),
])
def test_resend_only_after_fraction(expiration: int | None, fraction: float, fresh_seconds: float) -> None:
    clock = FakeClock(0)
    d = Dedup(fraction, 100, 86_400, clock)
    b = SegBlock(seg_id=1, value=1, expiration=expiration)
    assert d.should_send("u", None, b)
    clock.advance(fresh_seconds - 1)
    assert not d.should_send("u", None, b)
    clock.advance(2)
    assert d.should_send("u", None, b)


def test_fraction_zero_disables_dedup() -> None:
    d = Dedup(0.0, 100, 86_400, FakeClock(0))
    b = SegBlock(seg_id=1, expiration=1440)
    assert d.should_send("u", None, b) and d.should_send("u", None, b)


def test_keys_are_user_domain_segment_and_value() -> None:
    d = Dedup(0.5, 100, 86_400, FakeClock(0))
    b = SegBlock(seg_id=1, value=1, expiration=1440)
    assert d.should_send("u", None, b)
    assert d.should_send("u", "idfa", b)  # another id space
    assert d.should_send("u", None, SegBlock(seg_id=2, value=1, expiration=1440))
    assert d.should_send("u", None, SegBlock(seg_id=1, value=2, expiration=1440))  # value changed


def test_removal_always_sent_and_forgets_the_add() -> None:
    d = Dedup(0.5, 100, 86_400, FakeClock(0))
    add, rm = SegBlock(seg_id=1, expiration=1440), SegBlock(seg_id=1, expiration=-1)
    assert d.should_send("u", None, add)
    assert d.should_send("u", None, rm) and d.should_send("u", None, rm)
    assert d.should_send("u", None, add)  # re-added after removal goes out at once


def test_memory_is_bounded() -> None:
    d = Dedup(0.5, 1000, 86_400, FakeClock(0))
    for i in range(10_000):
        d.should_send(f"u{i}", None, SegBlock(seg_id=1, expiration=1440))
    assert len(d) == 1000
