"""Real ``segment-server serve`` nodes for the cluster tests: config only via ``SEGMENT_SERVER_CONFIG``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.auth.serverproc import cli
from tests.cluster.engine import free_port

#: ``[auth] failed_auth_max_per_client`` on every test node.
FAILED_AUTH_MAX = 3


class ServerNode:
    """One node: its own port, data dir and config file; the engine URL and prefix are shared."""

    def __init__(self, root: Path, name: str, engine_url: str, prefix: str, *, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = root / name / "data"
        self.config = root / name / "server.toml"
        self.log = root / name / "server.log"
        self.config.parent.mkdir(parents=True)
        self.config.write_text(
            f'[store]\ndata_dir = "{self.data}"\n\n[server]\nhost = "127.0.0.1"\nport = {self.port}\nworkers = {workers}\n\n'
            f'[cluster]\nenabled = true\nurl = "{engine_url}"\nkey_prefix = "{prefix}"\n'
            "connect_timeout_s = 0.2\ncommand_timeout_s = 0.2\n\n"
            f"[auth]\nfailed_auth_max_per_client = {FAILED_AUTH_MAX}\nscrypt_n = 1024\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_"))}
        self.env["SEGMENT_SERVER_CONFIG"] = str(self.config)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerNode:
        # A node is ready only with segment data loaded (README, Operating): each node's own snapshot.
        demo = subprocess.run([*cli(), "demo", "--users", "50"], env=self.env, capture_output=True, text=True,
                              check=False, timeout=120)
        assert demo.returncode == 0, demo.stderr
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([*cli(), "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"node exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if self.ready().get("status") == "ready":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"node did not become ready:\n{self.log.read_text()[-3000:]}")

    def ready(self) -> dict[str, object]:
        answer: dict[str, object] = httpx.get(self.base + "/health/ready", timeout=2).json()
        return answer

    def cli(self, *args: str) -> dict[str, object]:
        """``segment-server identities …`` against this node's config; its JSON output."""
        done = subprocess.run([*cli(), "identities", *args], env=self.env, capture_output=True, text=True,
                              check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        answer: dict[str, object] = json.loads(done.stdout)
        return answer

    def rtd(self, token: str) -> int:
        return httpx.post(self.base + "/rtd", content=b"{}", headers={"authorization": f"Bearer {token}"},
                          timeout=2).status_code

    def oauth(self, client_id: str, secret: str) -> int:
        return httpx.post(self.base + "/oauth/token", auth=(client_id, secret), timeout=5,
                          data={"grant_type": "client_credentials"}).status_code

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(condition: object, what: str, deadline_s: float = 15.0, step_s: float = 0.01) -> float:
    """Poll ``condition()`` until true; returns the seconds it took (fails after a generous deadline)."""
    assert callable(condition)
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline_s:
            pytest.fail(f"{what}: not within {deadline_s} s")
        time.sleep(step_s)
    return time.monotonic() - start
