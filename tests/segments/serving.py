"""A real ``segment-server serve`` on a free loopback port, configured only through
``SEGMENT_SERVER_CONFIG`` (a temp TOML with ``[store] data_dir``), and data dirs to damage.

Shared by the fault tests of this package: each starts the CLI as a subprocess, damages files
on disk, and checks the exit code, the message naming the file, and what keeps serving.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from segments.loader import load
from tests.helpers import TAXONOMY, write_jsonl

PAGE = "https://example.com/sports/"
RTD_BODY = {"site": {"page": PAGE}}
# v1 and v2 both map the page to "sports"; v2 adds "football": which snapshot answers is visible.
V1_ROWS = [{"kind": "url", "key": "example.com/sports", "segments": ["sports"]}]
V2_ROWS = [{"kind": "url", "key": "example.com/sports", "segments": ["sports", "football"]}]
WAIT_SECONDS = 45.0  # a generous deadline for a condition, never a timing assertion


def cli() -> list[str]:
    script = Path(sys.executable).with_name("segment-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def two_snapshots(tmp: Path) -> Path:
    """A data dir with snapshots v1 and v2 (CURRENT → v2); returns the data dir."""
    data = tmp / "data"
    tax = write_jsonl(tmp / "taxonomy.jsonl", TAXONOMY)
    load(data, [write_jsonl(tmp / "v1.jsonl", V1_ROWS)], [tax], mode="replace")
    load(data, [write_jsonl(tmp / "v2.jsonl", V2_ROWS)], mode="replace")
    return data


def snapshot(data: Path, version: int) -> Path:
    return data / "store" / f"snap-{version:08d}.sqlite"


def write_config(tmp: Path, data: Path, **store: Any) -> Path:
    lines = ["[store]", f'data_dir = "{data}"', "check_interval_seconds = 0.2"]
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in store.items()]
    lines += ["[auth]", "rtd_enabled = false", "segments_enabled = false", "admin_enabled = false"]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_"))}
    env["SEGMENT_SERVER_CONFIG"] = str(config)
    return env


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli(), *args], check=False, env=env_for(config), capture_output=True, text=True, timeout=120)


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rtd(self) -> httpx.Response:
        return httpx.post(self.base + "/rtd", json=RTD_BODY, timeout=10)

    def ready(self) -> httpx.Response:
        return httpx.get(self.base + "/health/ready", timeout=10)

    def wait_for(self, what: str, condition: Any) -> None:
        """Poll ``condition()`` until true; fail with the server's output if it dies or never is."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} waiting for {what}:\n"
                                     f"{self.output()[-3000:]}")
            try:
                if condition():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-3000:]}")


@contextmanager
def serving(tmp: Path, config: Path, *, workers: int = 1, extra_env: Mapping[str, str] | None = None
            ) -> Iterator[Server]:
    port = free_port()
    log = tmp / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cli(), "serve", "--workers", str(workers), "--host", "127.0.0.1",
                                 "--port", str(port)], env={**env_for(config), **(extra_env or {})},
                                stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        server.wait_for("the server to answer", lambda: server.ready().status_code in (200, 503))
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_fails(config: Path) -> subprocess.CompletedProcess[str]:
    """``serve`` expected to stop before serving: its exit status and output."""
    return subprocess.run([*cli(), "serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(free_port())],
                          check=False, env=env_for(config), capture_output=True, text=True, timeout=60)
