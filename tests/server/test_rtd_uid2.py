"""/rtd end to end with UID2: the real key refresher, fed by the fake operator, behind the real app."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from server import metrics as M
from server.app import create_app
from server.observability import hotpath
from server.uid2 import KeyRefresher
from server.uid2.identity import IdentityDB
from tests.fakes.uid2_operator import FakeUID2Operator, Fault
from tests.helpers import build_data_dir, settings_for
from tests.server.uid2_app import VECTORS, sharing_operator, uid2_services
from tests.server.uid2_app import token_for as mint

RAW = "AdNJ41yOVH7B5hbGTVN1w0oUEZmJ9h9PPvM+8sTpN4k="  # any 32-byte base64 raw UID2


@pytest.fixture
def fake() -> FakeUID2Operator:
    return sharing_operator()


@pytest.fixture
def client(tmp_path: Path, fake: FakeUID2Operator) -> Iterator[tuple[TestClient, KeyRefresher]]:
    data_dir = build_data_dir(tmp_path, [{"kind": "uid2", "key": RAW, "segments": ["uid2_auto"]}])
    settings = settings_for(data_dir)
    svc, refresher = uid2_services(data_dir, settings, fake)
    with TestClient(create_app(settings, services=svc)) as test_client:
        yield test_client, refresher


def token_for(refresher: KeyRefresher, raw: str = RAW, at: float | None = None) -> str:
    return mint(refresher, raw, at)


def body(token: str, **regs: Any) -> bytes:
    return orjson.dumps({"site": {"page": "https://publisher.test/a"}, "regs": regs,
                         "user": {"eids": [{"source": "uidapi.com", "uids": [{"id": token, "atype": 3}]}]}})


def decrypts(status: str) -> float:
    hotpath.flush()  # the handler counts in per-process tallies, moved to Prometheus once a second
    return M.UID2_DECRYPT.labels("UID2", status, "4")._value.get()


def test_token_becomes_raw_uid2_key(client: tuple[TestClient, KeyRefresher]) -> None:
    test_client, refresher = client
    before = decrypts("SUCCESS")
    response = test_client.post("/rtd", content=body(token_for(refresher)))
    assert response.json() == {"segment_ids": ["uid2_auto"], "deal_ids": ["D-AUTO", "D-SPORTS"]}
    assert decrypts("SUCCESS") == before + 1
    ready = test_client.get("/health/ready").json()
    assert ready["checks"]["uid2_keys"] == {"ok": True, "detail": "READY"}


def test_ready_says_degraded_while_refreshes_fail_and_tokens_still_decrypt(
        client: tuple[TestClient, KeyRefresher], fake: FakeUID2Operator) -> None:
    """Issue 22: the operator down → serving continues on the last good keys, and readiness says so."""
    test_client, refresher = client
    fake.inject(Fault.SERVER_ERROR)
    assert test_client.portal is not None and not test_client.portal.call(refresher.refresh_now)
    ready = test_client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["uid2_keys"]["degraded"] is True
    assert "1 key refreshes failed in a row" in ready.json()["checks"]["uid2_keys"]["detail"]
    assert test_client.post("/rtd", content=body(token_for(refresher))).json()["segment_ids"] == ["uid2_auto"]
    assert test_client.portal.call(refresher.refresh_now)  # the operator is back: ready again
    assert test_client.get("/health/ready").json()["status"] == "ready"


def test_tokens_in_user_ext_eids_too(client: tuple[TestClient, KeyRefresher]) -> None:
    test_client, refresher = client
    doc = {"user": {"ext": {"eids": [{"source": "uidapi.com", "uids": [{"id": token_for(refresher)}]}]}}}
    assert test_client.post("/rtd", content=orjson.dumps(doc)).json()["segment_ids"] == ["uid2_auto"]


def test_opt_out_string_means_no_decryption(client: tuple[TestClient, KeyRefresher]) -> None:
    test_client, refresher = client
    before = sum(decrypts(s) for s in ("SUCCESS", "INVALID_PAYLOAD"))
    response = test_client.post("/rtd", content=body(token_for(refresher), us_privacy="1YYN"))
    assert response.json()["segment_ids"] == []
    assert sum(decrypts(s) for s in ("SUCCESS", "INVALID_PAYLOAD")) == before


def test_garbage_and_foreign_tokens_are_misses_not_errors(client: tuple[TestClient, KeyRefresher]) -> None:
    test_client, _ = client
    real = VECTORS["tokens"][0]["token"] if "tokens" in VECTORS else "AAAA"
    for token in ("garbage", "A4" + "x" * 600, real):
        response = test_client.post("/rtd", content=body(token))
        assert response.status_code == 200 and response.json()["segment_ids"] == []


def test_opted_out_user_tokens_from_before_the_opt_out_are_refused(
        client: tuple[TestClient, KeyRefresher], tmp_path: Path) -> None:
    test_client, refresher = client
    opted_out_at = time.time()
    old_token = token_for(refresher, at=opted_out_at - 60)
    new_token = token_for(refresher, at=opted_out_at + 60)  # re-established after opting back in
    db = IdentityDB(tmp_path / "data")
    db.add_optouts([(RAW, opted_out_at)])
    db.close()
    before = decrypts("OPTED_OUT_BY_STATUS_CHECK")
    assert test_client.post("/rtd", content=body(old_token)).json()["segment_ids"] == []
    assert decrypts("OPTED_OUT_BY_STATUS_CHECK") == before + 1
    assert test_client.post("/rtd", content=body(new_token)).json()["segment_ids"] == ["uid2_auto"]
