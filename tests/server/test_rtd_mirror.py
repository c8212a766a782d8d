"""/rtd → Xandr mirror: matched users with a Xandr id or device id reach the durable outbox."""

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.mirror.outbox import Outbox
from tests.helpers import build_data_dir, settings_for

IFA = "aebe52e7-03ee-455a-b3c4-e57283966239"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return build_data_dir(tmp_path, [
        {"kind": "ifa", "key": IFA, "segments": ["ifa_gamers", "sports"]},
        {"kind": "url", "key": "example.com/cars", "segments": ["cars"]},
    ])


def client_for(data_dir: Path) -> TestClient:
    # No sender in-process: this test is about the hot path and the outbox, not delivery.
    return TestClient(create_app(settings_for(
        data_dir, mirror={"enabled": True, "embedded_sender": False, "username": "u", "password": "p"})))


def outbox_rows(data_dir: Path) -> list[tuple[str, str | None, Any]]:
    outbox = Outbox(data_dir)
    try:
        return [(i.user_id, i.domain, i.block) for i in outbox.fetch(100)]
    finally:
        outbox.close()


def post(client: TestClient, body: dict[str, Any]) -> list[str]:
    response = client.post("/rtd", content=orjson.dumps(body))
    assert response.status_code == 200
    return response.json()["segment_ids"]


def test_matched_device_and_xandr_ids_are_queued(data_dir: Path) -> None:
    body = {"site": {"page": "https://example.com/cars/x"},
            "device": {"ifa": IFA, "os": "iOS"},
            "user": {"eids": [{"source": "adnxs.com", "uids": [{"id": "8765432109876543210"}]}]}}
    with client_for(data_dir) as client:
        assert post(client, body) == ["ifa_gamers", "sports", "cars"]
    # Leaving the client runs the lifespan shutdown: the buffer is flushed to the outbox.
    rows = outbox_rows(data_dir)
    users = {(user, domain) for user, domain, _ in rows}
    assert users == {("8765432109876543210", None), (IFA, "idfa")}
    blocks = {(b.seg_id, b.seg_code, b.member_id) for _, _, b in rows}
    assert blocks == {(101, None, None), (None, "gamers", 958)}  # only segments with a Xandr mapping


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        pytest.param({"regs": {"us_privacy": "1YYN"}}, "usp-opt-out", id="usp-opt-out"),
        pytest.param({"regs": {"coppa": 1}}, "coppa", id="coppa"),
        pytest.param({"device": {"ifa": IFA, "os": "iOS", "lmt": 1}}, "lmt", id="lmt"),
        pytest.param({"device": {"ifa": IFA, "os": "Windows"}}, "unknown-os", id="unknown-os"),
    ],
)
def test_privacy_and_unmirrorable_ids_queue_nothing(data_dir: Path, extra: dict[str, Any], why: str) -> None:
    body = {"site": {"page": "https://example.com/cars"}, "device": {"ifa": IFA, "os": "iOS"}, **extra}
    with client_for(data_dir) as client:
        post(client, body)
    assert outbox_rows(data_dir) == [], why


def test_intents_reach_the_outbox_within_the_flush_window(data_dir: Path) -> None:
    body = {"device": {"ifa": IFA, "os": "android"}}
    with client_for(data_dir) as client:
        post(client, body)
        deadline = time.monotonic() + 5
        while not outbox_rows(data_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {(u, d) for u, d, _ in outbox_rows(data_dir)} == {(IFA, "aaid")}


@pytest.fixture
def linked_dir(tmp_path: Path) -> Path:
    return build_data_dir(tmp_path, [
        {"kind": "eid", "key": "liveramp.com:XY1", "segments": ["cars"], "xandr_id": "5550001"},
        {"kind": "url", "key": "example.com", "segments": ["cars"], "xandr_id": "999"},  # not user-level
    ])


def test_linked_xandr_ids_of_matched_user_keys_are_queued(linked_dir: Path) -> None:
    body = {"site": {"page": "https://example.com/"},
            "user": {"eids": [{"source": "liveramp.com", "uids": [{"id": "XY1"}]}]}}
    with client_for(linked_dir) as client:
        assert post(client, body) == ["cars"]
    assert {(u, d) for u, d, _ in outbox_rows(linked_dir)} == {("5550001", None)}


def test_linked_ids_respect_privacy(linked_dir: Path) -> None:
    body = {"regs": {"us_privacy": "1YYN"},
            "user": {"eids": [{"source": "liveramp.com", "uids": [{"id": "XY1"}]}]}}
    with client_for(linked_dir) as client:
        post(client, body)
    assert outbox_rows(linked_dir) == []
