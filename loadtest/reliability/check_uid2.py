"""UID2 operator down, slow, erroring, garbage: ``/rtd`` keeps decrypting with the last good keys.

The fake operator (:mod:`loadtest.reliability.operator`) serves a key set; the server refreshes
every second (backoff from 0.2 s). For each fault the operator misbehaves on every call for a few
seconds (or its process is stopped: *down*) while ``/rtd`` requests carrying a valid token for a
user of the demo data keep coming. Counted per fault: requests answered with the user's segments
(must be all of them), refresh failures the server recorded (``/admin/status``), and what
``/health/ready`` said meanwhile — it must stay 200 *and* say that keys are stale (refreshes
failing), so an operator can see it before the keys expire.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from loadtest import traffic
from loadtest.reliability import harness, operator
from loadtest.reliability.client import find_holding
from loadtest.servers import ServerProcess

FAULTS = ("500", "429", "slow", "garbage", "bad_keys", "down")
UID2_SETTINGS = {"refresh_interval_seconds": 1.0, "refresh_jitter_seconds": 0.0, "retry_initial_seconds": 0.2,
                 "retry_max_seconds": 1.0, "connect_timeout_seconds": 0.5, "read_timeout_seconds": 1.0,
                 "total_timeout_seconds": 2.0}


def _rtd_body(token: str) -> dict[str, Any]:
    return {"id": "uid2-fault", "site": {"page": "https://unknown.test/"},
            "user": {"eids": [{"source": "uidapi.com", "uids": [{"id": token, "atype": 3}]}]}}


def _uid2_state(http: httpx.Client, bearer: str) -> dict[str, Any]:
    status = http.get("/admin/status", headers={"Authorization": f"Bearer {bearer}"}).json()
    state: dict[str, Any] = status.get("subsystems", status).get("uid2", {}).get("UID2", {})
    if not state:  # the layout of /admin/status: look for the refresher's state anywhere
        state = find_holding(status, "consecutive_failures") or {}
    return state


def _phase(server: ServerProcess, op: ServerProcess, fault: str, token: str, bearer: str,
           seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        before = _uid2_state(http, bearer).get("failure_count", 0)
        if fault == "down":
            op.stop()
        else:
            operator.inject(op.base_url, fault, 10_000)
        hits = sent = 0
        ready_seen: set[str] = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            r = http.post("/rtd", json=_rtd_body(token), headers=headers)
            sent += 1
            hits += r.status_code == 200 and bool(_segments(r.json()))
            ready = http.get("/health/ready")
            detail = ready.json().get("checks", {}).get("uid2_keys", {}).get("detail")
            ready_seen.add(f"{ready.status_code} {detail}")
            time.sleep(0.02)
        after = _uid2_state(http, bearer)
    failures = after.get("failure_count", 0) - before
    says_stale = any("READY" not in seen or "stale" in seen.lower() or "fail" in seen.lower()
                     for seen in ready_seen)
    return {"fault": fault, "rtd_sent": sent, "rtd_decrypted_hits": hits, "refresh_failures": failures,
            "last_error": str(after.get("last_error"))[:200], "readiness_seen": sorted(ready_seen),
            "readiness_says_stale": says_stale,
            "pass": (hits == sent and failures > 0 and all(s.startswith("200") for s in ready_seen)
                     and says_stale)}


def _segments(doc: Any) -> list[Any]:
    found = find_holding(doc, "segment_ids") or find_holding(doc, "segments") or {}
    value = found.get("segment_ids", found.get("segments", []))
    return value if isinstance(value, list) else []


def run(quick: bool) -> harness.CheckResult:
    faults = ("garbage", "down") if quick else FAULTS
    seconds = 2.5 if quick else 5.0
    phases: list[dict[str, Any]] = []
    with harness.workspace("uid2") as ws:
        ws.load_demo()
        bearer = ws.bearer()
        op, document, uid2 = operator.start(ws.root / "operator", slow_seconds=3.0)
        try:
            raw = traffic.demo_keys(traffic.TrafficPlan(users=ws.users)).uid2[0]
            token = traffic.Uid2Minter(document).mint(raw, "valid") or ""
            with ws.start({"uid2": {**uid2, **UID2_SETTINGS}}) as server:
                with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
                    baseline = http.post("/rtd", json=_rtd_body(token),
                                         headers={"Authorization": f"Bearer {bearer}"})
                baseline_hit = bool(_segments(baseline.json()))
                for fault in faults:
                    phases.append(_phase(server, op, fault, token, bearer, seconds))
                alive = server.proc.poll() is None
        finally:
            op.stop()
    passed = baseline_hit and alive and all(p["pass"] for p in phases)
    figure = "; ".join(f"{p['fault']}: {p['rtd_decrypted_hits']}/{p['rtd_sent']} decrypted, "
                       f"{p['refresh_failures']} failed refreshes, "
                       f"ready {'says stale' if p['readiness_says_stale'] else 'silent'}"
                       for p in phases)
    return harness.CheckResult(
        "uid2-operator-faults", f"operator {', '.join(faults)} for {seconds:.0f} s each while /rtd decrypts "
        "a valid token (refresh every 1 s)",
        figure if baseline_hit else "baseline token did not decrypt: " + figure,
        passed, {"phases": phases, "baseline_hit": baseline_hit, "baseline_body": baseline.text[:300],
                 "server_alive": alive})
