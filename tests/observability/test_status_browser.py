"""``/status`` in a real headless Chromium (Debian's, driven by Playwright): loads, updates, screenshots.

The browser comes from ``scripts/install-browser.sh`` (apt-get, idempotent), never from
``playwright install``. Without a browser or the ``playwright`` package the test skips and says
why. The server is the real app under uvicorn on a free loopback port (a thread of this process).
The screenshot goes to the test's temp dir, and to ``docs/status-page.png`` when that file is
missing or ``SEGSERVER_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from server import observability as obs
from server.app import create_app
from tests.helpers import build_data_dir, settings_for
from tests.serverproc import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MEMBERS = [
    {"kind": "url", "key": "example.com/sports", "segments": ["sports"]},
    {"kind": "ip", "key": "198.51.100.0/24", "segments": ["net_office"]},
    {"kind": "geo", "key": "USA:10001", "segments": ["geo_nyc"]},
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        script = ROOT / "scripts" / "install-browser.sh"
        result = subprocess.run([str(script)], capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.skip(f"no browser: {script.name} could not install Debian chromium "
                        f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-300:]}")
    return CHROMIUM


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    import uvicorn

    app = create_app(settings_for(build_data_dir(tmp_path, MEMBERS)))
    if not any(getattr(r, "path", None) == "/status" for r in app.routes):  # before the lead mounts them
        app.router.routes.extend(obs.routes())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def _traffic(base: str) -> None:
    bodies: list[dict[str, Any]] = [
        {"site": {"page": "https://example.com/sports/"}, "device": {"ip": "198.51.100.7"}},
        {"site": {"page": "https://example.com/sports/"}, "regs": {"ext": {"us_privacy": "1YYN"}}},
        {"site": {"page": "https://example.com/"}, "regs": {"coppa": 1}},
        {"site": {"page": "https://example.com/"}, "regs": {"ext": {"gdpr": 1}}},
    ]
    with httpx.Client(base_url=base, timeout=10) as client:
        for i in range(40):
            assert client.post("/rtd", content=orjson.dumps(bodies[i % len(bodies)])).status_code == 200
        for i in range(12):
            client.get("/segments", params={"ip": "198.51.100.7"} if i % 3 else {"bogus": "1"})


def test_status_page_in_chromium(chromium: Path, live_server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        # A persistent context is Playwright's way of passing the probe's empty --user-data-dir.
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(chromium), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(live_server + "/status")
            page.wait_for_function("Number(document.body.dataset.polls || 0) >= 1", timeout=15000)
            before = page.inner_text('[data-k="rtd.requests"]')
            assert page.inner_text('[data-k="store.version"]').startswith("v")
            assert "not configured" in page.inner_text("#uid2")

            _traffic(live_server)
            page.wait_for_function(
                "(b) => document.querySelector('[data-k=\"rtd.requests\"]').textContent !== b",
                arg=before, timeout=15000)
            page.wait_for_function(  # a rate needs two polls that straddle the traffic
                "() => { const r = document.querySelector('[data-k=\"rtd.rate\"]'); "
                "return r && r.textContent !== '–'; }",
                timeout=15000)
            after = int(page.inner_text('[data-k="rtd.requests"]').replace(",", ""))
            assert after >= int(before.replace(",", "") or 0) + 40
            assert page.inner_text('[data-k="rtd.p50"]') != "–"
            assert page.locator('#privacy [data-k^="privacy."]').count() >= 3
            assert errors == []

            polls = int(page.evaluate("document.body.dataset.polls"))
            _traffic(live_server)  # a second burst, so the sparkline has a shape in the screenshot
            page.wait_for_function(f"Number(document.body.dataset.polls) >= {polls + 3}", timeout=15000)
            shot = tmp_path / "status-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            docs = ROOT / "docs" / "status-page.png"
            if not docs.exists() or os.environ.get("SEGSERVER_UPDATE_SCREENSHOTS") == "1":
                docs.parent.mkdir(exist_ok=True)
                shutil.copyfile(shot, docs)
        finally:
            browser.close()
