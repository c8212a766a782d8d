"""Requests carrying raw UID2s, tokens, DII, IPs and secrets: none of it may reach a log line.

The app is the real one (``create_app`` around a temp data dir) wrapped in the access log at
sample rate 1.0, plus the ways code in this repo logs: structlog fields, a stdlib logger with
``%s`` arguments (uvicorn, the UID2 refresher) and a traceback whose message holds the values.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import structlog
from starlette.testclient import TestClient

from server.app import create_app
from server.observability.access_log import AccessLogMiddleware
from server.types import Receive, Scope, Send
from tests.helpers import build_data_dir, settings_for
from tests.observability.conftest import Captured

RAW_UID2 = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
UID2_TOKEN = ("AgAAAAN6QZRECm5bE4rqqWmhEwdIcomvPRXhMpCTrVGdZUEcmgxJWaY+kqBCGpd8nrQQo8xzeKkLD9NI0kmCGCgoMcr5M"
              "ajnT/I4RjcZb7DZEW7L4r+ss0kzQH0lXA7U3mPNmfXVzxFODMr5mn3rTtuXeJBVq5f3rxg=")
BEARER = "sk_live_Q2xpZW50U2VjcmV0MTIzNDU2Nzg5"
CLIENT_SECRET = "cs-9f8e7d6c5b4a"
EMAIL = "jane.doe@example.com"
PHONE = "+14155550123"
IP4 = "203.0.113.77"
IP6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
IFA = "aebe52e7-03ee-455a-b3c4-e57283966239"
SECRETS = [RAW_UID2, UID2_TOKEN, BEARER, CLIENT_SECRET, EMAIL, PHONE, IP4, IP6, IFA]


def _bid_request() -> dict[str, Any]:
    return {
        "id": "req-1",
        "site": {"domain": "example.com", "page": "https://example.com/sports/"},
        "device": {"ip": IP4, "ipv6": IP6, "ifa": IFA, "os": "android"},
        "user": {"id": RAW_UID2, "ext": {"eids": [
            {"source": "uidapi.com", "uids": [{"id": UID2_TOKEN}]},
            {"source": "example-dii", "uids": [{"id": EMAIL}]},
        ]}},
        "regs": {"ext": {"gdpr": 0}},
    }


def test_no_identifier_reaches_the_logs(tmp_path: Path, captured_logs: Captured) -> None:
    data_dir = build_data_dir(tmp_path,
                              [{"kind": "url", "key": "example.com/sports", "segments": ["sports"]}])
    inner = create_app(settings_for(data_dir))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/boom":
            raise RuntimeError(f"lookup failed for {EMAIL} uid2={RAW_UID2} secret={CLIENT_SECRET} from {IP4}")
        await inner(scope, receive, send)

    wrapped = AccessLogMiddleware(app, sample_rate=1.0)
    headers = {"authorization": f"Bearer {BEARER}", "x-forwarded-for": IP4}
    with TestClient(wrapped, raise_server_exceptions=False, client=(IP4, 40000)) as client:
        assert client.post("/rtd", content=orjson.dumps(_bid_request()), headers=headers).status_code == 200
        assert client.post("/rtd", content=f'{{"user": "{EMAIL}" {UID2_TOKEN}',
                           headers=headers).status_code == 400
        assert client.get("/segments", params={"ip": IP4}, headers=headers).status_code == 200  # miss_status
        assert client.get("/segments", params={"ifa": IFA, "client_secret": CLIENT_SECRET}).status_code == 400
        assert client.get("/boom", headers=headers).status_code == 500

    log = structlog.get_logger("test")
    log.info(f"matched {RAW_UID2} for {EMAIL}", token=UID2_TOKEN, client_secret=CLIENT_SECRET, ip=IP4,
             phone=PHONE, detail={"ifa": IFA, "note": f"Bearer {BEARER}"}, peers=[IP6])
    logging.getLogger("uvicorn.error").warning("refresh failed: api_key=%s from %s (%s)", BEARER, IP6, PHONE)
    try:
        raise ValueError(f"decrypt of {UID2_TOKEN} for {EMAIL} failed")
    except ValueError:
        logging.getLogger("server.uid2.refresher").exception("uid2 error")
        log.exception("uid2_error")

    raw = captured_logs.getvalue()
    records = captured_logs.records()  # every line is one JSON object
    assert len([r for r in records if r.get("event") == "access"]) >= 5  # (the app may log errors itself too)
    assert any(r.get("status") == 500 and r.get("error") == "RuntimeError" for r in records)
    assert sum("exception" in r for r in records) == 2
    leaked = [s for s in SECRETS if s in raw]
    assert leaked == []
    # not even recognisable fragments: the host part of the IP, the token's tail, the mailbox
    for fragment in ("113.77", "8a2e:370", UID2_TOKEN[-24:], "jane.doe", RAW_UID2[:16], "U2VjcmV0"):
        assert fragment not in raw, fragment
    assert "203.0.113.0/24" in raw  # the truncated form is what ops get
