"""Real ``segment-server serve`` nodes for the cluster tests, through the one process helper
(``tests/serverproc.py``): config only via ``SEGMENT_SERVER_CONFIG``, each node its own port, data
dir and config; the engine URL and key prefix are what they share."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from tests import serverproc
from tests.serverproc import Server, TomlTables, free_port, merge, run_cli, serve_ready, write_config

#: ``[auth] failed_auth_max_per_client`` on every test node.
FAILED_AUTH_MAX = 3


class ServerNode:
    """One node: its own port, data dir and config file; the engine URL and prefix are shared."""

    def __init__(self, root: Path, name: str, engine_url: str, prefix: str, *, workers: int = 1,
                 publish_dir: Path | None = None, extra: TomlTables | None = None) -> None:
        self.port = free_port()
        self.prefix = prefix
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = root / name / "data"
        self.log = root / name / "server.log"
        self.data.parent.mkdir(parents=True)
        self.config = write_config(root / name / "server.toml", merge({
            "store": {"data_dir": self.data},
            "server": {"host": "127.0.0.1", "port": self.port, "workers": workers},
            "cluster": {"enabled": True, "url": engine_url, "key_prefix": prefix,
                        "connect_timeout_s": 0.2, "command_timeout_s": 0.2,
                        **({"publish_dir": publish_dir} if publish_dir is not None else {})},
            "auth": {"failed_auth_max_per_client": FAILED_AUTH_MAX, "scrypt_n": 1024},
        }, extra or {}))
        self.server: Server | None = None

    def start(self) -> ServerNode:
        # A node is ready only with segment data loaded (README, Operating): each node's own snapshot.
        demo = run_cli(self.config, "demo", "--users", "50")
        assert demo.returncode == 0, demo.stderr
        def is_ready() -> bool:
            return self.ready().get("status") == "ready"

        self.server = serve_ready(self.config, port=self.port, logs=self.log, data_dir=self.data, merged=True,
                                  ready=lambda server: server.wait_until(is_ready, "node ready", 45,
                                                                         step_s=0.1))
        return self

    def ready(self) -> dict[str, object]:
        answer: dict[str, object] = httpx.get(self.base + "/health/ready", timeout=2).json()
        return answer

    def cli(self, *args: str) -> dict[str, object]:
        """``segment-server identities …`` against this node's config; its JSON output."""
        done = run_cli(self.config, "identities", *args, timeout=60)
        assert done.returncode == 0, done.stderr
        answer: dict[str, object] = json.loads(done.stdout)
        return answer

    def run(self, *args: str) -> dict[str, object]:
        """Any ``segment-server`` command against this node's config; its (last line of) JSON output."""
        done = run_cli(self.config, *args, timeout=120)
        assert done.returncode == 0, done.stderr
        answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    def segments_for_domain(self, token: str, domain: str) -> str:
        """The ``/rtd`` answer (text) for a page on ``domain``."""
        body = {"id": "r1", "imp": [{"id": "1"}], "site": {"domain": domain, "page": f"https://{domain}/"}}
        answer = httpx.post(self.base + "/rtd", json=body, headers={"authorization": f"Bearer {token}"},
                            timeout=2)
        assert answer.status_code == 200, answer.text
        return answer.text

    def rtd(self, token: str) -> int:
        return httpx.post(self.base + "/rtd", content=b"{}", headers={"authorization": f"Bearer {token}"},
                          timeout=2).status_code

    def oauth(self, client_id: str, secret: str) -> int:
        return httpx.post(self.base + "/oauth/token", auth=(client_id, secret), timeout=5,
                          data={"grant_type": "client_credentials"}).status_code

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def wait_for(condition: Callable[[], bool], what: str, deadline_s: float = 15.0,
             step_s: float = 0.01) -> float:
    """Poll ``condition()`` until true; returns the seconds it took (fails after a generous deadline)."""
    return serverproc.wait_for(condition, deadline_s, what, step_s)
