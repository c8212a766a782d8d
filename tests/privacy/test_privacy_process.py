"""The privacy settings and malformed-signal rules, end to end against the real ``segment-server`` process.

Config only through ``SEGMENT_SERVER_CONFIG`` (a temp TOML with ``[store] data_dir`` and the new
``[privacy]`` keys), a free loopback port; the decisions are read back from
``segserver_privacy_decisions_total{reason}`` on ``/metrics``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import privacy_vectors as v
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("segment-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(config: Path) -> dict[str, str]:
    env = {k: val for k, val in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_"))}
    env["SEGMENT_SERVER_CONFIG"] = str(config)
    return env


def _config(tmp: Path, privacy: str) -> Path:
    path = tmp / "config.toml"
    path.write_text(f'[store]\ndata_dir = "{tmp / "data"}"\n\n'
                    "[auth]\nrtd_enabled = false\nsegments_enabled = false\nadmin_enabled = false\n\n"
                    f"[privacy]\n{privacy}\n")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("privacy-process")
    env = _env(_config(tmp, "gvl_vendor_id = 8\ntcfca_vendor_id = 18\ntcfca_required_purposes = [7, 8]\n"
                            "tcfca_implied_consent = false"))
    subprocess.run([*_cli(), "demo", "--users", "20"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = tmp / "server.log"
    # Two workers, as in production: with one, /metrics answered empty on this snapshot (reported to obs).
    with log.open("wb") as out:
        proc = subprocess.Popen([*_cli(), "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _decisions(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics", timeout=5).text
    return {s.labels["reason"]: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "segserver_privacy_decisions_total" and "reason" in s.labels}


CASES = [
    pytest.param({"us_privacy": "1-y-"}, "usp_invalid", id="lower-case us_privacy"),
    pytest.param({"gpp": "DBABTA~", "gpp_sid": [6]}, "usp_invalid", id="header says 6, empty body"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_SHORT_66, "gpp_sid": [7]}, "gpp_invalid", id="short usnat v2"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_OPTED_OUT, "gpp_sid": [7]}, "gpp_us_child", id="usnat v2"),
    pytest.param({"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": [5]}, "tcfca_no_consent",
                 id="canada implied consent refused by config"),
]


@pytest.mark.parametrize(("regs", "reason"), CASES)
def test_decision_reason_is_counted(server: str, regs: dict[str, object], reason: str) -> None:
    before = _decisions(server).get(reason, 0.0)
    body = orjson.dumps({"site": {"page": "https://example.com/"}, "user": {"id": "AbcdEfgHijklmnoP"}, "regs": regs})
    assert httpx.post(server + "/rtd", content=body, timeout=10).status_code in (200, 204)
    deadline = time.monotonic() + 15  # the worker flushes its tallies about once a second; only a cap
    while _decisions(server).get(reason, 0.0) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _decisions(server).get(reason, 0.0) == before + 1


def test_a_bad_canada_setting_fails_the_start_naming_the_key(tmp_path: Path) -> None:
    env = _env(_config(tmp_path, "tcfca_vendor_id = 70000\ntcfca_implied_consent = \"yes\""))
    result = subprocess.run([*_cli(), "serve", "--host", "127.0.0.1", "--port", str(_free_port())], env=env, check=False,
                            capture_output=True, timeout=60)
    assert result.returncode != 0
    output = (result.stdout + result.stderr).decode()
    assert "privacy.tcfca_vendor_id" in output and "privacy.tcfca_implied_consent" in output
