"""A real ``segment-server serve`` process for the tests that need one: free loopback port,
temp data dir holding the demo snapshot, config only through ``SEGMENT_SERVER_CONFIG``."""

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

import httpx
import pytest


@dataclass(frozen=True)
class LiveServer:
    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def rss_bytes(self) -> int:
        """Resident memory of the serving process (one worker: uvicorn serves in-process)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


def cli() -> list[str]:
    script = Path(sys.executable).with_name("segment-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(sections: dict[str, dict[str, object]]) -> str:
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str | Path):
            return f'"{v}"'
        return str(v)

    return "".join(f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in keys.items()) + "\n"
                   for name, keys in sections.items())


@contextmanager
def live_server(tmp: Path, **sections: Mapping[str, object]) -> Iterator[LiveServer]:
    """Serve the demo data with auth off; ``sections`` add or override TOML keys per section."""
    data = tmp / "data"
    port = free_port()
    config: dict[str, dict[str, object]] = {
        "server": {"host": "127.0.0.1", "port": port, "workers": 1, "log_level": "warning"},
        "store": {"data_dir": data},
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
    }
    for name, keys in sections.items():
        config.setdefault(name, {}).update(keys)
    path = tmp / "config.toml"
    path.write_text(_toml(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_"))}
    env["SEGMENT_SERVER_CONFIG"] = str(path)
    subprocess.run([*cli(), "demo", "--users", "100"], env=env, check=True, capture_output=True, timeout=120)
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cli(), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", port, proc, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited with {server.proc.returncode}:\n{server.log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not become ready:\n{server.log.read_text()[-3000:]}")
