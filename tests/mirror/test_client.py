"""The Xandr client against the fake: token life cycle, auth limit, response shapes, errors."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from server.mirror.client import MemoryAuthLog, XandrClient, parse_rt_segment, retry_after_seconds
from server.mirror.errors import AuthFailed, AuthRateLimited, PayloadTooLarge, RetryableError
from server.mirror.outbox import Outbox
from server.mirror.settings import MirrorSettings
from tests.fakes.clock import FakeClock
from tests.fakes.xandr import FakeXandr, Fault
from tests.mirror.conftest import run, with_

BODY = orjson.dumps({"rt_segment": [{"user_id": "12345678900987654321", "domain": None, "seg_block": [
    {"seg_id": 10001, "seg_code": None, "value": 1, "expiration": 1440, "member_id": None}]}]})


def client_for(settings: MirrorSettings, fake: FakeXandr, clock: FakeClock,
               auth_log: Any = None) -> XandrClient:
    log = auth_log or MemoryAuthLog(clock)
    return XandrClient(settings, XandrClient.make_http(settings, fake.transport()), clock=clock, auth_log=log)


@pytest.fixture
def fclock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def xfake(fclock: FakeClock) -> FakeXandr:
    return FakeXandr(clock=fclock, posts_per_second=1e9, users_per_second=1e12)


def test_auth_body_header_and_reuse(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return xfake.handle(request)

    c = XandrClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(spy)), clock=fclock)

    async def go() -> None:
        for _ in range(5):
            await c.post_rt_segment(BODY)
        await c.aclose()
    run(go())
    assert orjson.loads(seen[0].content) == {"auth": {"username": "mirror-user", "password": "s3cret"}}
    assert str(seen[0].url) == "https://api.test/auth"
    assert xfake.auth_attempts == 1  # one token, reused
    token = seen[1].headers["authorization"]
    assert token.startswith("hbapi:") and not token.startswith("Bearer")
    assert str(seen[1].url) == "https://streaming.test/rt-segment"


@pytest.mark.parametrize(("idle", "auths"), [
    pytest.param(60, 1, id="used a minute ago: reuse"),
    pytest.param(2 * 3600 - 601, 1, id="just inside 2 h idle minus margin"),
    pytest.param(2 * 3600 - 500, 2, id="proactive refresh before 2 h idle expiry"),
])
def test_proactive_refresh_idle(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock, idle: float,
                                auths: int) -> None:
    c = client_for(settings, xfake, fclock)

    async def go() -> None:
        await c.post_rt_segment(BODY)
        fclock.advance(idle)
        await c.post_rt_segment(BODY)
    run(go())
    assert xfake.auth_attempts == auths
    assert not any(status == 401 for _, status in xfake.log)  # never used a dead token


def test_proactive_refresh_before_24h_hard(settings: MirrorSettings, xfake: FakeXandr,
                                           fclock: FakeClock) -> None:
    c = client_for(settings, xfake, fclock)

    async def go() -> None:
        for _ in range(25):  # used every hour: idle never expires, the 24 h hard limit does
            await c.post_rt_segment(BODY)
            fclock.advance(3600)
    run(go())
    assert xfake.auth_attempts == 2
    assert not any(status == 401 for _, status in xfake.log)


def test_reauth_on_noauth(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock) -> None:
    c = client_for(settings, xfake, fclock)

    async def go() -> None:
        await c.post_rt_segment(BODY)
        xfake.inject(Fault.NOAUTH)
        await c.post_rt_segment(BODY)
    run(go())
    assert xfake.auth_attempts == 2
    assert [s for p, s in xfake.log if p == "/rt-segment"] == [200, 401, 200]


def test_never_more_than_10_auths_in_5_minutes(settings: MirrorSettings, xfake: FakeXandr,
                                                fclock: FakeClock) -> None:
    c = client_for(settings, xfake, fclock)

    async def go() -> float:
        for _ in range(10):
            await c.post_rt_segment(BODY)
            c._token = None  # force a new auth each time (as if each token died)
            fclock.advance(1)
        with pytest.raises(AuthRateLimited) as info:
            await c.post_rt_segment(BODY)
        return info.value.retry_after or 0
    wait = run(go())
    assert xfake.auth_attempts == 10 and xfake.violations == []
    assert 285 <= wait <= 300
    fclock.advance(wait)
    run(c.post_rt_segment(BODY))
    assert xfake.auth_attempts == 11


def test_auth_budget_survives_restart(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock,
                                      tmp_path: Any) -> None:
    box = Outbox(tmp_path / "o", fclock)
    for _ in range(10):  # ten sender processes, each killed right after authenticating
        run(client_for(settings, xfake, fclock, box).post_rt_segment(BODY))
    with pytest.raises(AuthRateLimited):
        run(client_for(settings, xfake, fclock, box).post_rt_segment(BODY))
    assert xfake.violations == []
    box.close()


def test_access_token_query_form_accepted_by_fake(xfake: FakeXandr) -> None:
    auth = xfake.respond("POST", "/auth", "", None, orjson.dumps({"auth": {"username": "mirror-user",
                                                                            "password": "s3cret"}}))
    token = auth.body["response"]["token"]
    assert xfake.respond("POST", "/rt-segment", f"access_token={token}", None, BODY).status == 200
    assert xfake.respond("POST", "/rt-segment", "", None, BODY).status == 401


def test_bad_credentials(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock) -> None:
    c = client_for(with_(settings, password="wrong"), xfake, fclock)
    with pytest.raises(AuthFailed) as info:
        run(c.post_rt_segment(BODY))
    assert "wrong" not in str(info.value)


@pytest.mark.parametrize(("fault", "reason", "retry_after"), [
    pytest.param(Fault.SERVER_ERROR, "5xx", None, id="503"),
    pytest.param(Fault.RATE_LIMITED, "429", 2.0, id="429 with Retry-After"),
    pytest.param(Fault.TIMEOUT, "timeout", None, id="timeout"),
    pytest.param(Fault.DROP, "connection", None, id="dropped connection"),
])
def test_retryable_faults(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock, fault: Fault,
                          reason: str, retry_after: float | None) -> None:
    c = client_for(settings, xfake, fclock)
    xfake.inject(fault)
    with pytest.raises(RetryableError) as info:
        run(c.post_rt_segment(BODY))
    assert (info.value.reason, info.value.retry_after) == (reason, retry_after)


def test_payload_too_large(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock) -> None:
    c = client_for(settings, xfake, fclock)
    with pytest.raises(PayloadTooLarge):
        run(c.post_rt_segment(b'{"rt_segment":[' + b" " * 1_000_001 + b"]}"))


@pytest.mark.parametrize(("body", "users", "segments", "messages"), [
    pytest.param({"response": {"status": "OK", "message": {"users_in_request": 1, "segments_in_request": 2},
                               "warnings": []}}, 1, 2, [], id="wrapped (seed)"),
    pytest.param({"response": {"status": "OK", "users_in_request": 1, "segments_in_request": 2}}, 1, 2, [],
                 id="other member's code: counts outside message (seed)"),
    pytest.param({"status": "OK", "message": {"users_in_request": 0, "segments_in_request": 0}, "warnings": [
        {"message": "'seg_block' is required", "entity": {"user_id": "asdf"}},
        {"message": "No valid rt_segment in request.", "entity": {"rt_segment": [{"user_id": "asdf"}]}}]},
        0, 0, ["'seg_block' is required", "No valid rt_segment in request."], id="unwrapped (seed)"),
    pytest.param({"response": {"status": "OK", "new_field": {"x": 1},
                               "warnings": [{"message": "m"}, "junk"]}},
                 None, None, ["m"], id="unknown fields tolerated"),
])
def test_parse_shapes(body: Any, users: int | None, segments: int | None, messages: list[str]) -> None:
    r = parse_rt_segment(body)
    assert (r.status, r.users_in_request, r.segments_in_request) == ("OK", users, segments)
    assert [w.message for w in r.warnings] == messages


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("3", 3.0, id="seconds"),
    pytest.param("Thu, 01 Jan 1970 00:01:40 GMT", 40.0, id="http date"),
    pytest.param("soon", None, id="garbage"),
    pytest.param(None, None, id="absent"),
])
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=60.0) == expected


def test_processed_report(settings: MirrorSettings, xfake: FakeXandr, fclock: FakeClock) -> None:
    c = client_for(settings, xfake, fclock)

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        await c.post_rt_segment(BODY)
        return await c.get_processed(1234), await c.get_processed(1234, agg=True)
    hourly, agg = run(go())
    assert hourly[0]["num_valid_users"] == 1 and hourly[0]["match_rate"] == 100.0
    assert len(agg) == 1
