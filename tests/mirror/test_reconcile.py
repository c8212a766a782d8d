from __future__ import annotations

import orjson

from server.mirror.client import XandrClient
from server.mirror.outbox import Outbox
from server.mirror.reconcile import Reconciler, summarise
from server.mirror.settings import MirrorSettings
from tests.fakes.clock import FakeClock
from tests.fakes.xandr import FakeXandr
from tests.mirror.conftest import run

# the seed-adjacent documentation's hourly example (check-usage-statistics)
HOURLY = [
    {"match_rate": 100.0, "member_id": 123, "num_inactive_segments": 0, "num_invalid_segments": 0,
     "num_invalid_users": 0, "num_other_errors": 0, "num_unauth_segments": 0, "num_valid_adds": 2,
     "num_valid_removes": 0, "num_valid_users": 1, "processed_hour": "2015-11-03 18:00:00"},
    {"match_rate": 50.0, "member_id": 123, "num_inactive_segments": 1, "num_invalid_segments": 1,
     "num_invalid_users": 1, "num_other_errors": 0, "num_unauth_segments": 1, "num_valid_adds": 0,
     "num_valid_removes": 2, "num_valid_users": 1, "processed_hour": "2015-11-03 19:00:00",
     "error_log_lines":
         "Inactive segments (id, code, segment owner member id): (321456, 'segment_312456', 123)",
     "future_field": True},
]


def test_summarise_takes_latest_hour() -> None:
    r = summarise(HOURLY, now=1.0)
    assert (r.processed_hour, r.match_rate, r.num_valid_removes) == ("2015-11-03 19:00:00", 50.0, 2)
    assert r.problems == {"num_invalid_users": 1, "num_unauth_segments": 1, "num_inactive_segments": 1,
                          "num_invalid_segments": 1, "num_other_errors": 0}
    assert "Inactive segments" in r.error_log_lines


def test_hourly_run_stores_result_for_ops(settings: MirrorSettings, tmp_path: object) -> None:
    clock = FakeClock()
    fake = FakeXandr(clock=clock, unknown_users=frozenset({"ghost"}))
    box = Outbox(settings.data_dir, clock)
    client = XandrClient(settings, XandrClient.make_http(settings, fake.transport()), clock=clock,
                         auth_log=box)
    rec = Reconciler(client, box, 1234, 3600, clock)
    body = orjson.dumps({"rt_segment": [{"user_id": u, "domain": None, "seg_block": [{"seg_id": 1}]}
                                        for u in ("a", "ghost")]})

    async def go() -> None:
        await client.post_rt_segment(body)
        assert await rec.maybe_run() is not None
        assert await rec.maybe_run() is None  # not again within the hour
        clock.advance(3600)
        assert await rec.maybe_run() is not None
    run(go())
    stored = orjson.loads(box.stats().last_reconcile or "{}")
    assert stored["match_rate"] == 50.0 and stored["problems"]["num_invalid_users"] == 1
    assert [p for p, _ in fake.log].count("/rt-segment-processed") == 2
    box.close()
