"""Operator answers other than success: 400/401 stop the job with a clear status; 429/5xx retry."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from server.uid2.identity import IdentityDB, OperatorRejected, OperatorUnavailable
from server.uid2.identity.batching import batches, wire_bytes
from server.uid2.identity.retry import Backoff
from server.uid2.identity.v2 import format_since, parse_last_updated
from server.uid2.identity.v3 import IdentityMapV3, parse_item, refresh_seconds
from server.uid2.operator import OperatorClient
from tests.uid2_identity.conftest import SECRET, Env, no_sleep, users

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("statuses", "error", "code"), [
    pytest.param([400], "client_error", 400, id="400-not-retried"),
    pytest.param([401], "unauthorized", 401, id="401-not-retried"),
    pytest.param([500, 500, 500], "after 3 attempts", 500, id="5xx-gives-up"),
    pytest.param([429, 429, 429], "after 3 attempts", 429, id="429-gives-up"),
])
async def test_failures_surface_in_the_report_and_job_status(
        make_env: Callable[..., Env], statuses: list[int], error: str, code: int) -> None:
    env = make_env(retry_attempts=3)
    env.load(users(6))
    env.fake.fail_next(*statuses)
    report = await env.run("map")
    assert report.error is not None and error in report.error and report.status_code == code
    assert len(env.fake.calls) == len(statuses)  # 4xx once; 429/5xx up to retry_attempts
    status = IdentityDB(env.data).job_status()["map"]
    assert status["state"] == "failed" and error in status["error"] and status["last_ok"] is None
    assert IdentityDB(env.data).counts()["pending"] == 6  # nothing lost: the next run maps them
    assert (await env.run("map")).mapped == 6


@pytest.mark.parametrize("statuses", [
    pytest.param([429], id="429"), pytest.param([500, 503], id="5xx"),
    pytest.param([502, 429, 500], id="mixed"),
])
async def test_transient_failures_back_off_and_succeed(make_env: Callable[..., Env],
                                                       statuses: list[int]) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    env = make_env(retry_attempts=5, retry_initial_seconds=1.0, retry_max_seconds=4.0)
    env.load(users(6))
    env.fake.fail_next(*statuses)
    report = await env.run("map", sleep=sleep)
    assert (report.error, report.mapped) == (None, 6)
    assert len(waits) == len(statuses) and all(0 <= w <= min(4.0, 2**i) for i, w in enumerate(waits))


async def test_a_skewed_client_clock_is_a_400(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.load(users(2))
    async with env.jobs() as jobs:
        client = OperatorClient("https://operator.test", env.fake.operator.api_key, SECRET,
                                transport=env.fake.transport(), clock=lambda: env.clock() - 600)
        v3 = IdentityMapV3(client, Backoff(3, 0.01, 0.01, sleep=no_sleep))
        with pytest.raises(OperatorRejected) as caught:
            await v3.map([p.did for p in jobs.db.pending(10)])
        await client.aclose()
    assert caught.value.status_code == 400 and "clock" in str(caught.value)


async def test_v3_requests_stay_within_5000_items(make_env: Callable[..., Env]) -> None:
    env = make_env()
    dids = [f"email_hash:{base64.b64encode(i.to_bytes(32, 'big')).decode()}" for i in range(12_001)]
    async with env.jobs() as jobs:
        outcomes = await jobs.v3.map(dids)
    assert [n for _, n in env.fake.calls] == [5000, 5000, 2001]
    assert [o.did for o in outcomes] == dids and all(o.uid for o in outcomes)


async def test_optout_status_asks_at_most_5000_ids(make_env: Callable[..., Env]) -> None:
    env = make_env()
    async with env.jobs() as jobs:
        assert await jobs.optout_client.status([f"uid{i}" for i in range(10_500)]) == {}
    assert [n for _, n in env.fake.calls] == [5000, 5000, 500]


async def test_persistent_garbage_is_unavailable_not_rejected(make_env: Callable[..., Env]) -> None:
    from tests.fakes.uid2_operator import Fault

    env = make_env(retry_attempts=2)
    env.fake.operator.inject(Fault.GARBAGE, Fault.WRONG_NONCE)
    async with env.jobs() as jobs:
        with pytest.raises(OperatorUnavailable):
            await jobs.optout_client.status(["a"])


def test_batches_respect_the_byte_limit() -> None:
    items = ["x" * 1000] * 2000
    sizes = [len(b) for b in batches(items, items, max_items=5000, max_bytes=1_000_000)]
    assert sum(sizes) == 2000 and max(sizes) < 2000
    assert all(wire_bytes(64 + n * 1003) <= 1_000_000 for n in sizes)


@pytest.mark.parametrize(("item", "uid", "prev", "refresh", "reason"), [
    pytest.param({"u": "U", "p": None, "r": 1735689600}, "U", None, 1735689600, None, id="seconds"),
    pytest.param({"u": "U", "p": "P", "r": 1735689600000}, "U", "P", 1735689600, None, id="milliseconds"),
    pytest.param({"u": "U", "p": "", "r": "soon", "extra": [1]}, "U", None, None, None, id="tolerant"),
    pytest.param({"e": "optout"}, None, None, None, "optout", id="optout"),
    pytest.param({"e": "invalid identifier"}, None, None, None, "invalid identifier", id="invalid"),
    pytest.param({"e": "new reason"}, None, None, None, "unknown:new reason", id="unknown-reason"),
    pytest.param([], None, None, None, "unknown:not an object", id="not-an-object"),
])
def test_parse_v3_item(item: object, uid: str | None, prev: str | None, refresh: int | None,
                       reason: str | None) -> None:
    o = parse_item("d", item)
    assert (o.uid, o.prev, o.refresh_at, o.reason) == (uid, prev, refresh, reason)


def test_time_formats() -> None:
    assert format_since(1654088400.9) == "2022-06-01T13:00:00"  # no offset, whole seconds
    assert parse_last_updated("2022-06-05T22:52:03.109") == pytest.approx(1654469523.109)
    assert parse_last_updated("2022-06-05T22:52:03Z") == 1654469523
    assert refresh_seconds(True) is None
