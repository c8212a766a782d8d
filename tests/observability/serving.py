"""A real ``segment-server serve`` for tests: temp data dir, free loopback port, config only by file.

Everything the server reads comes from one TOML file named by ``SEGMENT_SERVER_CONFIG`` (no
``SEGMENT_SERVER_*`` or ``PROMETHEUS_*`` variable leaks in from the test run), as an operator
would configure it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
REPO = Path(__file__).resolve().parents[2]


def cli() -> list[str]:
    script = Path(sys.executable).with_name("segment-server")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, sections: dict[str, dict[str, object]]) -> Path:
    """TOML from plain values (strings, numbers, booleans, lists of those: JSON spells them alike)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n")
    return path


def clean_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_SERVER_", "PROMETHEUS_", "UID2_",
                                                                     "EUID_"))}
    env["SEGMENT_SERVER_CONFIG"] = str(config)
    return env


@dataclass
class Server:
    base: str
    port: int
    data: Path
    stdout: Path
    stderr: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def lines(self) -> list[str]:
        return self.stdout.read_text().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines() if line.startswith("{")]


def prepare(tmp: Path, users: int = 100, **sections: dict[str, object]) -> tuple[Path, dict[str, str], int]:
    """A config file (free port, data dir under ``tmp``) and a demo data set loaded through the CLI."""
    port = free_port()
    merged: dict[str, dict[str, object]] = {"server": {"host": "127.0.0.1", "port": port},
                                            "store": {"data_dir": str(tmp / "data")}}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    config = write_config(tmp / "config.toml", merged)
    env = clean_env(config)
    subprocess.run([*cli(), "demo", "--users", str(users)], env=env, check=True, capture_output=True, timeout=120)
    return config, env, port


def start(tmp: Path, env: dict[str, str], port: int, *args: str) -> Server:
    out, err = tmp / "server.out", tmp / "server.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([*cli(), "serve", *args], env=env, stdout=stdout, stderr=stderr, cwd=REPO)
    server = Server(f"http://127.0.0.1:{port}", port, tmp / "data", out, err, proc, env)
    wait_ready(server)
    return server


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited with {server.proc.returncode}:\n{server.stdout.read_text()[-3000:]}"
                        f"\n{server.stderr.read_text()[-3000:]}")
        try:
            if httpx.get(server.base + "/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"server did not start:\n{server.stdout.read_text()[-3000:]}")


def scrape(base: str, **kwargs: Any) -> Samples:
    response = httpx.get(base + "/metrics", timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def wait_for(condition: Any, what: str, timeout: float = 20) -> None:
    """Poll ``condition()`` until true; the timeout is a generous cap, not a measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")
