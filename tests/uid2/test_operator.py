from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import SECRET, VECTORS
from fakes.uid2_operator import FakeUID2Operator, Fault

from server.uid2 import ClientType, OperatorClient, OperatorError
from server.uid2.operator import OperatorHTTPError, OperatorResponseError

pytestmark = pytest.mark.anyio
BASE = "https://operator.test"
KEYS = {
    "/v2/key/bidstream": VECTORS["key_sets"]["bidstream"],
    "/v2/key/sharing": VECTORS["key_sets"]["sharing"],
}


def _client(
    fake: FakeUID2Operator, *, api_key: str | None = None, total_timeout: float = 5.0
) -> OperatorClient:
    return OperatorClient(
        BASE, api_key or fake.api_key, SECRET, transport=fake.transport(), total_timeout=total_timeout
    )


@pytest.mark.parametrize("client_type", [pytest.param(c, id=c.value) for c in ClientType])
async def test_fetch_keys(client_type: ClientType) -> None:
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS)
    async with _client(fake) as client:
        keys = await client.fetch_keys(client_type)
    assert len(keys.keys) == 7
    assert fake.requests == [(client_type.key_path, 200)]


async def test_post_enveloped_is_generic() -> None:
    seen: list[Any] = []
    fake = FakeUID2Operator(secret=SECRET)
    fake.add_route(
        "/v3/identity/map",
        lambda payload: (seen.append(payload), {"body": {"ok": 1}, "status": "success"})[1],
    )
    async with _client(fake) as client:
        assert await client.post_enveloped("/v3/identity/map", {"email_hash": ["x"]}) == {
            "body": {"ok": 1},
            "status": "success",
        }
        await client.post_enveloped("/v3/identity/map", b'{"phone_hash": []}')
    assert seen == [{"email_hash": ["x"]}, {"phone_hash": []}]


@pytest.mark.parametrize(
    ("fault", "error", "status_code"),
    [
        pytest.param(Fault.UNAUTHORIZED, OperatorHTTPError, 401, id="401"),
        pytest.param(Fault.RATE_LIMITED, OperatorHTTPError, 429, id="429"),
        pytest.param(Fault.SERVER_ERROR, OperatorHTTPError, 500, id="500"),
        pytest.param(Fault.GARBAGE, OperatorResponseError, 200, id="garbage"),
        pytest.param(Fault.WRONG_NONCE, OperatorResponseError, 200, id="wrong-nonce"),
        pytest.param(Fault.BAD_KEYS, OperatorResponseError, 200, id="bad-keys"),
        pytest.param(Fault.SLOW, OperatorError, None, id="slow"),
    ],
)
async def test_faults_raise_operator_errors(
    fault: Fault, error: type[Exception], status_code: int | None
) -> None:
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS, slow_seconds=2.0)
    fake.inject(fault)
    async with _client(fake, total_timeout=0.05) as client:
        with pytest.raises(error) as caught:
            await client.fetch_keys()
    assert getattr(caught.value, "status_code", None) == status_code


async def test_wrong_api_key_is_401_and_secret_never_in_repr() -> None:
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS)
    async with _client(fake, api_key="wrong") as client:
        assert "wrong" not in repr(client)
        with pytest.raises(OperatorHTTPError, match="401"):
            await client.fetch_keys()


async def test_transport_error_is_operator_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with OperatorClient(BASE, "k", SECRET, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(OperatorError, match="ConnectError"):
            await client.fetch_keys()


async def test_stale_request_timestamp_is_rejected_by_the_fake() -> None:
    fake = FakeUID2Operator(secret=SECRET, keys=KEYS, clock=lambda: 0.0)
    async with _client(fake) as client:
        with pytest.raises(OperatorHTTPError, match="400"):
            await client.fetch_keys()
