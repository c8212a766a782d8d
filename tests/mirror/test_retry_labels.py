"""Retry labels name what Xandr actually answered: a 503 is ``5xx`` even when its body says "Rate limit"."""

from __future__ import annotations

import httpx
import orjson
import pytest

from server.mirror.client import XandrClient
from server.mirror.errors import RetryableError
from server.mirror.settings import MirrorSettings
from tests.fakes.clock import FakeClock
from tests.fakes.xandr import FakeXandr
from tests.mirror.conftest import run

BODY = b'{"rt_segment":[]}'
RATE_TEXT = {"response": {"error": "Rate limit exceeded. You have exceeded your request limit"}}


@pytest.mark.parametrize(("status", "body", "headers", "reason", "retry_after"), [
    pytest.param(503, {"response": {"error_id": "SYSTEM", "error": "Service unavailable"}}, {}, "5xx", None,
                 id="503"),
    pytest.param(503, RATE_TEXT, {"Retry-After": "3"}, "5xx", 3.0, id="503 whose body mentions a rate limit"),
    pytest.param(429, RATE_TEXT, {"Retry-After": "2"}, "429", 2.0, id="429"),
    pytest.param(429, {}, {}, "429", None, id="429 without body"),
    pytest.param(200, RATE_TEXT, {}, "rate_limit_message", None, id="rate-limit text without the status"),
])
def test_retry_reason_follows_the_status(settings: MirrorSettings, status: int, body: object,
                                         headers: dict[str, str], reason: str,
                                         retry_after: float | None) -> None:
    clock = FakeClock()
    xandr = FakeXandr(clock=clock, posts_per_second=1e9, users_per_second=1e12)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth":
            return xandr.handle(request)
        return httpx.Response(status, content=orjson.dumps(body), headers=headers)

    client = XandrClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler)), clock=clock)
    with pytest.raises(RetryableError) as info:
        run(client.post_rt_segment(BODY))
    assert (info.value.reason, info.value.retry_after) == (reason, retry_after)
    assert str(status) in str(info.value) or status == 429
