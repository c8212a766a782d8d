"""The real app with UID2 decryption wired as ``serve`` wires it — the real key refresher, fed by the
fake operator (tests/fakes/) — and tokens minted with the keys that operator serves.

Shared by the /rtd UID2 tests and the /rtd fuzz test (which had each built the same services), and
by the e2e fakes (``fresh_sharing_keys``, ``SECRET``), so every UID2 test faces one key set.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

from segments.store import SQLiteStore
from server.config import Settings
from server.privacy import PrivacyGate
from server.services import Services
from server.uid2 import BidstreamDecryptor, ClientType, KeyRefresher, OperatorClient, encrypt_raw_uid
from server.uid2.identity import OptOutIndex
from tests.fakes.uid2_operator import FakeUID2Operator

VECTORS = json.loads((Path(__file__).parents[1] / "uid2" / "data" / "vectors.json").read_text())
SECRET = bytes(range(32))  # the operator API secret the fake and our client share


def fresh_sharing_keys() -> dict[str, Any]:
    """The vectors' sharing key set, re-dated so it is valid now (fresh key secrets each call)."""
    now = int(time.time())
    body = VECTORS["key_sets"]["sharing"]["body"]
    keys = [{**k, "created": now - 86400, "activates": now - 3600, "expires": now + 86400,
             "secret": base64.b64encode(os.urandom(32)).decode()} for k in body["keys"]]
    return {"body": {**body, "keys": keys}, "status": "success"}


def sharing_operator() -> FakeUID2Operator:
    """A fake operator serving a fresh sharing key set (a test keeps it to inject faults)."""
    return FakeUID2Operator(secret=SECRET, keys={"/v2/key/sharing": fresh_sharing_keys()})


def uid2_services(data_dir: Path, settings: Settings, fake: FakeUID2Operator | None = None,
                  ) -> tuple[Services, KeyRefresher]:
    """Services over ``data_dir`` whose decryptor's keys come from ``fake`` (a new sharing operator
    by default), and its refresher."""
    fake = sharing_operator() if fake is None else fake
    operator = OperatorClient("https://operator.test", fake.api_key, SECRET, transport=fake.transport())
    refresher = KeyRefresher(lambda: operator.fetch_keys(ClientType.SHARING), interval=3600)
    svc = Services(settings=settings, store=SQLiteStore(data_dir, check_interval=0),
                   gate=PrivacyGate(settings.privacy),
                   decryptor=BidstreamDecryptor(refresher, client_type=ClientType.SHARING),
                   optouts=OptOutIndex(data_dir, refresh_seconds=0.0))
    svc.extras["uid2"] = {"UID2": refresher}
    return svc, refresher


def token_for(refresher: KeyRefresher, raw: str, at: float | None = None) -> str:
    """A UID2 token for ``raw`` as of ``at`` (now by default), under the refresher's current keys."""
    result = encrypt_raw_uid(raw, refresher.snapshot, now=time.time() if at is None else at)
    assert result.token
    return result.token
