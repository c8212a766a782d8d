from __future__ import annotations

import orjson
import pytest

from server.mirror.batcher import build_batches, split_batch
from server.mirror.types import Intent, SegBlock


def intents(users: int, segs: int, *, code_len: int = 0, start: int = 0) -> list[Intent]:
    out, n = [], start
    for u in range(users):
        for s in range(segs):
            n += 1
            block = (SegBlock(seg_code="c" * code_len + str(s), member_id=7, value=1, expiration=1440)
                     if code_len else SegBlock(seg_id=10_000 + s, value=1, expiration=1440))
            out.append(Intent(n, f"user-{u}", None, block, 0.0))
    return out


@pytest.mark.parametrize(("users", "segs", "requests", "max_users_seen", "max_blocks_seen"), [
    pytest.param(1, 2, 1, 1, 2, id="seed example"),
    pytest.param(2500, 1, 3, 1000, 1, id="2500 users → 1000+1000+500"),
    pytest.param(1, 250, 3, 1, 100, id="250 segments → 100+100+50 in separate calls"),
    pytest.param(1500, 2, 2, 1000, 2, id="1500 users x 2 segments"),
    pytest.param(3, 150, 2, 3, 100, id="3 users x 150 segments"),
])
def test_limits(users: int, segs: int, requests: int, max_users_seen: int, max_blocks_seen: int) -> None:
    batches = build_batches(intents(users, segs))
    assert len(batches) == requests
    for b in batches:
        doc = orjson.loads(b.body)["rt_segment"]
        assert len(doc) <= 1000 and len(b.body) <= 1_000_000
        assert len({e["user_id"] for e in doc}) == len(doc)  # a user at most once per call
        assert all(len(e["seg_block"]) <= 100 for e in doc)
    assert max(len(orjson.loads(b.body)["rt_segment"]) for b in batches) == max_users_seen
    assert max(len(e["seg_block"]) for b in batches
               for e in orjson.loads(b.body)["rt_segment"]) == max_blocks_seen
    assert sorted(i for b in batches for i in b.ids) == list(range(1, users * segs + 1))


def test_one_megabyte() -> None:
    batches = build_batches(intents(900, 10, code_len=200))  # ~2.2 MB in all
    assert len(batches) >= 3
    assert all(len(b.body) <= 1_000_000 for b in batches)
    assert sum(b.users for b in batches) == 900


def test_seed_wire_shape() -> None:
    [batch] = build_batches([Intent(1, "12345678900987654321", None, SegBlock(seg_id=10001, value=1,
                                                                               expiration=1440), 0.0)])
    assert orjson.loads(batch.body) == {"rt_segment": [{"user_id": "12345678900987654321", "seg_block": [
        {"seg_id": 10001, "seg_code": None, "value": 1, "expiration": 1440, "member_id": None}],
        "domain": None}]}


def test_latest_intent_wins_and_all_ids_ride_along() -> None:
    add = SegBlock(seg_id=1, value=1, expiration=1440)
    rm = SegBlock(seg_id=1, value=1, expiration=-1)
    [batch] = build_batches([Intent(1, "u", None, add, 0), Intent(2, "u", None, rm, 0),
                             Intent(3, "v", "idfa", add, 0)])
    doc = orjson.loads(batch.body)["rt_segment"]
    assert doc[0]["seg_block"][0]["expiration"] == -1 and doc[1]["domain"] == "idfa"
    assert sorted(batch.ids) == [1, 2, 3]


def test_oversize_single_block_is_flagged() -> None:
    [batch] = build_batches([Intent(1, "u" * 1_100_000, None, SegBlock(seg_id=1), 0)])
    assert batch.oversize and batch.ids == [1]


def test_split_keeps_every_id() -> None:
    [batch] = build_batches(intents(10, 3))
    parts = split_batch(batch)
    assert [p.users for p in parts] == [5, 5]
    assert sorted(i for p in parts for i in p.ids) == sorted(batch.ids)
