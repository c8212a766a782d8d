"""The privacy settings and malformed-signal rules, end to end against the real ``segment-server`` process.

Config only through ``SEGMENT_SERVER_CONFIG`` (a temp TOML with ``[store] data_dir`` and the new
``[privacy]`` keys), a free loopback port; the decisions are read back from
``segserver_privacy_decisions_total{reason}`` on ``/metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import orjson
import privacy_vectors as v
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serverproc import free_port, run_cli, serve_ready, write_config

pytestmark = pytest.mark.slow


def _config(tmp: Path, privacy: Mapping[str, object]) -> Path:
    return write_config(tmp / "config.toml", {
        "store": {"data_dir": tmp / "data"},
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
        "privacy": privacy,
    })


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("privacy-process")
    config = _config(tmp, {"gvl_vendor_id": 8, "tcfca_vendor_id": 18, "tcfca_required_purposes": [7, 8],
                           "tcfca_implied_consent": False})
    demo = run_cli(config, "demo", "--users", "20")
    assert demo.returncode == 0, demo.stderr
    port = free_port()
    # Two workers, as in production: with one, /metrics answered empty on this snapshot (reported to obs).
    with serve_ready(config, "--workers", "2", "--host", "127.0.0.1", "--port", str(port), port=port,
                     logs=tmp / "server.log", merged=True) as running:
        yield running.base


def _decisions(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics", timeout=5).text
    return {s.labels["reason"]: s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "segserver_privacy_decisions_total" and "reason" in s.labels}


CASES = [
    pytest.param({"us_privacy": "1-y-"}, "usp_invalid", id="lower-case us_privacy"),
    pytest.param({"gpp": "DBABTA~", "gpp_sid": [6]}, "usp_invalid", id="header says 6, empty body"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_SHORT_66, "gpp_sid": [7]}, "gpp_invalid",
                 id="short usnat v2"),
    pytest.param({"gpp": "DBABLA~" + v.USNAT_V2_OPTED_OUT, "gpp_sid": [7]}, "gpp_us_child", id="usnat v2"),
    pytest.param({"gpp": v.GPP_TCF_CA_FIBONACCI_USP, "gpp_sid": [5]}, "tcfca_no_consent",
                 id="canada implied consent refused by config"),
]


@pytest.mark.parametrize(("regs", "reason"), CASES)
def test_decision_reason_is_counted(server: str, regs: dict[str, object], reason: str) -> None:
    before = _decisions(server).get(reason, 0.0)
    body = orjson.dumps({"site": {"page": "https://example.com/"}, "user": {"id": "AbcdEfgHijklmnoP"},
                         "regs": regs})
    assert httpx.post(server + "/rtd", content=body, timeout=10).status_code in (200, 204)
    deadline = time.monotonic() + 15  # the worker flushes its tallies about once a second; only a cap
    while _decisions(server).get(reason, 0.0) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _decisions(server).get(reason, 0.0) == before + 1


def test_a_bad_canada_setting_fails_the_start_naming_the_key(tmp_path: Path) -> None:
    config = _config(tmp_path, {"tcfca_vendor_id": 70000, "tcfca_implied_consent": "yes"})
    result = run_cli(config, "serve", "--host", "127.0.0.1", "--port", str(free_port()), timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "privacy.tcfca_vendor_id" in output and "privacy.tcfca_implied_consent" in output
