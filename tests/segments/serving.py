"""A real ``segment-server serve`` on a free loopback port, configured only through
``SEGMENT_SERVER_CONFIG`` (a temp TOML with ``[store] data_dir``), and data dirs to damage.

Shared by the fault tests of this package: each starts the CLI as a subprocess (through the one
process helper, ``tests/serverproc.py``), damages files on disk, and checks the exit code, the
message naming the file, and what keeps serving.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from segments.loader import load
from tests.helpers import TAXONOMY, write_jsonl
from tests.serverproc import Server as ProcessServer
from tests.serverproc import free_port, run_cli, serve_ready
from tests.serverproc import write_config as write_tables

__all__ = ["Server", "run_cli", "serving", "snapshot", "start_fails", "two_snapshots", "write_config"]

PAGE = "https://example.com/sports/"
RTD_BODY = {"site": {"page": PAGE}}
# v1 and v2 both map the page to "sports"; v2 adds "football": which snapshot answers is visible.
V1_ROWS = [{"kind": "url", "key": "example.com/sports", "segments": ["sports"]}]
V2_ROWS = [{"kind": "url", "key": "example.com/sports", "segments": ["sports", "football"]}]
WAIT_SECONDS = 45.0  # a generous deadline for a condition, never a timing assertion


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
    """Auth off, the store checked for a new CURRENT every 0.2 s, and ``store`` keys on top."""
    return write_tables(tmp / "config.toml", {
        "store": {"data_dir": data, "check_interval_seconds": 0.2, **store},
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
    })


@dataclass
class Server(ProcessServer):
    """The shared process helper's server, with the one request and readiness probe these tests use."""

    def rtd(self) -> httpx.Response:
        return httpx.post(self.base + "/rtd", json=RTD_BODY, timeout=10)

    def ready(self) -> httpx.Response:
        return httpx.get(self.base + "/health/ready", timeout=10)

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Poll ``condition()`` until true; fail with the server's output if it dies or never is."""
        self.wait_until(condition, what, WAIT_SECONDS, step_s=0.1)


@contextmanager
def serving(tmp: Path, config: Path, *, workers: int = 1, extra_env: Mapping[str, str] | None = None
            ) -> Iterator[Server]:
    """A server that answers ``/health/ready`` at all (200, or 503 while degraded), stopped on exit."""
    port = free_port()
    started = serve_ready(config, "--workers", str(workers), "--host", "127.0.0.1", "--port", str(port),
                          port=port, logs=tmp / f"server-{port}.log", merged=True, env=extra_env,
                          ready=lambda server: server.wait_ready((200, 503), deadline_s=WAIT_SECONDS))
    with Server(**vars(started)) as server:
        yield server


def start_fails(config: Path) -> subprocess.CompletedProcess[str]:
    """``serve`` expected to stop before serving: its exit status and output."""
    return run_cli(config, "serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(free_port()),
                   timeout=60)
