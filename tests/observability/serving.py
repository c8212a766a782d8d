"""A real ``segment-server serve`` for the metrics and log tests: temp data dir, free loopback port,
config only by file — through the one process helper, ``tests/serverproc.py``.

Everything the server reads comes from one TOML file named by ``SEGMENT_SERVER_CONFIG`` (no
``SEGMENT_SERVER_*``, ``PROMETHEUS_*``, ``UID2_*`` or ``EUID_*`` variable leaks in from the test
run), as an operator would configure it. What this module adds: the metrics tests' config and demo
data (``prepare``), their start (``start``: from the checkout, once ``/health/live`` answers), and
the ``/metrics`` readers of ``tests/metrics_text.py`` under the names these tests use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests import serverproc
from tests.metrics_text import Samples, scrape, total
from tests.serverproc import CLI, Server, cli_env, free_port, run_cli, serve_ready, write_config

__all__ = ["REPO", "Samples", "Server", "cli", "prepare", "scrape", "start", "total", "wait_for"]

REPO = Path(__file__).resolve().parents[2]


def cli() -> list[str]:
    return [str(CLI)]


def prepare(tmp: Path, users: int = 100, **sections: dict[str, object]) -> tuple[Path, dict[str, str], int]:
    """A config file (free port, data dir under ``tmp``) and a demo data set loaded through the CLI."""
    port = free_port()
    config = write_config(tmp / "config.toml", serverproc.merge(
        {"server": {"host": "127.0.0.1", "port": port}, "store": {"data_dir": str(tmp / "data")}}, sections))
    demo = run_cli(config, "demo", "--users", str(users))
    assert demo.returncode == 0, demo.stderr
    return config, cli_env(config), port


def start(tmp: Path, config: Path, port: int, *args: str) -> Server:
    """``serve *args`` from the checkout, stdout and stderr apart, once ``/health/live`` answers."""
    return serve_ready(config, *args, port=port, logs=tmp / "server", data_dir=tmp / "data", cwd=REPO,
                       ready=lambda server: server.wait_ready(path="/health/live"))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Poll ``condition()`` until true; the timeout is a generous cap, not a measurement."""
    serverproc.wait_for(condition, timeout, what, step_s=0.2)
