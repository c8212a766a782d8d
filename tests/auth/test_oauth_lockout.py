"""Lockout is not a denial of service (issue 25 item 8).

While address A hammers ``/oauth/token`` with wrong secrets for Index's client id, Index's right
credentials from address B get a token: limits key on (client id, address) and on the address,
and secret checks run off the event loop, one lane per address, in a bounded pool. Checked in
process (two ASGI clients with different peer addresses) and against the real server (two
loopback source addresses, 127.0.0.1 and 127.0.0.2). No timing is asserted: "B succeeds while
A's attack is still running" is checked as an ordering of events.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import pytest

from server.auth import Guard, IdentityService, RevocationView
from server.auth.secretcheck import LaneFull, SecretChecks
from server.auth.settings import AuthSettings
from tests.helpers import build_data_dir

from .conftest import FakeClock, build_app
from .serverproc import Server, serving

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ATTACKER, INDEX = "198.51.100.66", "203.0.113.10"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _body(client_id: str, secret: str) -> str:
    return f"grant_type=client_credentials&client_id={client_id}&client_secret={quote_plus(secret)}"


async def _hammer(client: httpx.AsyncClient, client_id: str, stop: asyncio.Event, seen: list[int]) -> None:
    while not stop.is_set():
        r = await client.post("/oauth/token", content=_body(client_id, "wrong"), headers=FORM)
        seen.append(r.status_code)
        await asyncio.sleep(0)  # an in-process 429 never yields to the loop; a socket always would


@pytest.mark.anyio
async def test_wrong_secrets_from_a_do_not_lock_out_b(service: IdentityService, guard: Guard,
                                                      clock: FakeClock) -> None:
    identity, secret = service.create_identity("index", ["rtd"])
    assert secret is not None
    app = build_app(service, guard, clock)
    a = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ATTACKER, 1000)), base_url="http://t")
    b = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(INDEX, 2000)), base_url="http://t")
    stop, seen = asyncio.Event(), []
    attack = [asyncio.create_task(_hammer(a, identity.id, stop, seen)) for _ in range(8)]
    try:
        while 429 not in seen:  # the attacker's own address is blocked now…
            await asyncio.sleep(0.01)
        r = await b.post("/oauth/token", content=_body(identity.id, secret), headers=FORM)
        assert not any(task.done() for task in attack)  # …while its attack is still running
    finally:
        stop.set()
        await asyncio.gather(*attack)
        await a.aclose()
        await b.aclose()
    assert r.status_code == 200, r.text  # …and Index, from elsewhere, gets its token
    assert set(seen) <= {401, 429} and seen.count(401) <= 3 + 8  # limit 3 per pair; 8 were in flight


@pytest.mark.anyio
async def test_one_lane_per_address_and_a_bounded_queue() -> None:
    checks = SecretChecks(threads=2, queued_per_address=2)
    release = threading.Event()

    def slow() -> str:
        release.wait(30)
        return "a"

    first = asyncio.create_task(checks.run(ATTACKER, slow))
    queued = [asyncio.create_task(checks.run(ATTACKER, slow)) for _ in range(2)]
    while checks.pending(ATTACKER) < 3:
        await asyncio.sleep(0.01)
    with pytest.raises(LaneFull):  # one running, two waiting: the fourth is refused without work
        await checks.run(ATTACKER, slow)
    # Another address is served at once although A's lane is full and its check still blocks.
    assert await checks.run(INDEX, lambda: "b") == "b"
    assert not first.done()
    release.set()
    assert await asyncio.gather(first, *queued) == ["a", "a", "a"]
    assert checks.pending(ATTACKER) == 0


def test_same_address_still_locked_after_failures(tmp_path: Path) -> None:
    """The brake itself still works: the attacking (client id, address) pair gets 429."""
    settings = AuthSettings(scrypt_n=2**10, failed_auth_max_per_client=2)
    clock = FakeClock()
    service = IdentityService(tmp_path / "data", settings, clock=clock)
    app = build_app(service, Guard(RevocationView(tmp_path / "data", clock=clock), settings, clock=clock),
                    clock)
    identity, secret = service.create_identity("index", ["rtd"])
    assert secret is not None

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(ATTACKER, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as a:
            codes = [(await a.post("/oauth/token", content=_body(identity.id, "x"), headers=FORM)).status_code
                     for _ in range(3)]
            codes.append((await a.post("/oauth/token", content=_body(identity.id, secret),
                                       headers=FORM)).status_code)
            return codes

    assert asyncio.run(run()) == [401, 401, 429, 429]


@pytest.fixture
def real_server(tmp_path: Path) -> Iterator[tuple[Server, IdentityService]]:
    data = build_data_dir(tmp_path, [{"kind": "ip", "key": INDEX, "segments": ["sports"]}])
    service = IdentityService(data, AuthSettings())  # production scrypt cost: the check is the slow part
    with serving(tmp_path, data, workers=1) as server:
        yield server, service


def test_real_server_b_gets_its_token_while_a_hammers(real_server: tuple[Server, IdentityService]) -> None:
    server, service = real_server
    identity, secret = service.create_identity("index", ["rtd"])
    assert secret is not None

    def client(source: str) -> httpx.Client:
        return httpx.Client(base_url=server.base, timeout=30,
                            transport=httpx.HTTPTransport(local_address=source))

    stop, seen, lock = threading.Event(), [], threading.Lock()

    def hammer() -> None:
        with client("127.0.0.1") as a:
            while not stop.is_set():
                code = a.post("/oauth/token", content=_body(identity.id, "wrong"), headers=FORM).status_code
                with lock:
                    seen.append(code)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        deadline = 60.0
        while 429 not in seen and deadline > 0:
            stop.wait(0.05)
            deadline -= 0.05
        assert 429 in seen, seen  # the attacking address is limited…
        with client("127.0.0.2") as b:
            r = b.post("/oauth/token", content=_body(identity.id, secret), headers=FORM)
        assert all(t.is_alive() for t in threads)  # …while the attack is still in progress…
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert r.status_code == 200, r.text  # …and Index, from another address, gets its token
    assert httpx.post(server.base + "/rtd", json={}, timeout=5,
                      headers={"Authorization": "Bearer " + r.json()["access_token"]}).status_code == 200
