from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from tests.helpers import build_data_dir, settings_for
from tests.serverproc import wait_for

RELOAD_DEADLINE = 30.0  # a cap for a stuck upkeep task; it ticks every 0.05 s under these settings

MEMBERS = [
    {"kind": "uid2", "key": "raw-uid2-1", "segments": ["uid2_auto"]},
    {"kind": "eid", "key": "liveramp.com:XY1", "segments": ["ramp"]},
    {"kind": "ifa", "key": "aebe52e7-03ee-455a-b3c4-e57283966239", "segments": ["ifa_gamers", "cars"]},
    {"kind": "user_id", "key": "AbcdEfgHijklmnoP", "segments": ["cars"]},
    {"kind": "url", "key": "example.com/sports", "segments": ["sports"]},
    {"kind": "url", "key": "example.com/sports/football", "segments": ["football"]},
    {"kind": "bundle", "key": "com.kids.game", "segments": ["kids_apps"]},
    {"kind": "geo", "key": "USA:10001", "segments": ["geo_nyc"]},
    {"kind": "ip", "key": "198.51.100.0/24", "segments": ["net_office"]},
    {"kind": "domain", "key": "example.com", "segments": ["sports"]},
    {"kind": "content_id", "key": "episode-42", "segments": ["football"]},
    {"kind": "url", "key": "example.com/new", "segments": ["pending"]},
]

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return build_data_dir(tmp_path, MEMBERS)


@pytest.fixture
def make_client(data_dir: Path) -> Iterator[ClientFactory]:
    clients: list[TestClient] = []

    def factory(**sections: Any) -> TestClient:
        client = TestClient(create_app(settings_for(data_dir, **sections)))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def write_and_wait(client: TestClient, write: Callable[[], object]) -> None:
    """Run ``write`` against the data dir, then wait until the worker's upkeep task has applied it.

    Requests never reload the store (the upkeep task does, ``server/wiring.py``), so a test that
    writes and then queries waits on this condition first: the store has read its meta again
    (``info`` is a new object after every snapshot switch or live edit it picks up).
    """
    store = client.app.state.services.store  # type: ignore[attr-defined]
    before = store.info
    write()
    wait_for(lambda: store.info is not before, RELOAD_DEADLINE, "the store upkeep task to apply the write")
