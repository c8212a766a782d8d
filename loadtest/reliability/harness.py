"""What every reliability check stands on: a temp data dir, a TOML config, the real server process.

A check gets a :class:`Workspace` (its own temp dir), writes a config there and starts
``segment-server serve`` with ``SEGMENT_SERVER_CONFIG`` as the *only* source of settings (every
inherited ``SEGMENT_SERVER_*`` variable is removed), on a free loopback port. Starting, readiness
polling, PIDs and memory come from :mod:`loadtest.servers`; the demo data set and bearer token
from :mod:`loadtest.stack` and :mod:`loadtest.traffic`.

A check returns a :class:`CheckResult`: what was tried, the figure, pass/fail (``None`` = skipped,
with the reason as the figure), and the raw numbers for ``reliability.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest import servers, stack, traffic

ENV_PREFIX = "SEGMENT_SERVER_"
DEMO_USERS = 2_000

Scalar = str | int | float | bool
Sections = Mapping[str, Mapping[str, Scalar | list[Scalar]]]


@dataclass
class CheckResult:
    name: str
    tried: str
    figure: str
    passed: bool | None  # None: skipped (the figure says why)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "skip" if self.passed is None else "PASS" if self.passed else "FAIL"


def toml_text(sections: Sections) -> str:
    """A TOML document from plain sections (JSON string/array syntax is valid TOML for these values)."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any ``SEGMENT_SERVER_*`` (config comes from the file only)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(ENV_PREFIX) and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra or {})
    return env


@dataclass
class Workspace:
    """One check's temp dir: ``data/`` (the server's data dir), ``config.toml``, ``logs/``."""

    root: Path
    users: int = DEMO_USERS

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    def load_demo(self) -> dict[str, Any]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return stack.load_demo(self.data_dir, self.users)

    def bearer(self) -> str:
        token = traffic.bearer_token(self.data_dir)
        if token is None:
            raise RuntimeError("no bearer token could be minted from the data dir")
        return token

    def write_config(self, sections: Sections | None = None) -> Path:
        base: dict[str, dict[str, Scalar | list[Scalar]]] = {
            "server": {"log_level": "warning"},
            "store": {"data_dir": str(self.data_dir), "check_interval_seconds": 0.2},
            "observability": {"log_format": "json"},
        }
        for name, values in (sections or {}).items():
            base.setdefault(name, {}).update(values)
        self.config_path.write_text(toml_text(base))
        return self.config_path

    def start(self, sections: Sections | None = None, *, workers: int = 1,
              timeout: float = 60.0) -> servers.ServerProcess:
        """``segment-server serve`` on this workspace (raises :class:`servers.ServerError` if not ready)."""
        config = self.write_config(sections)
        port = servers.free_port()
        argv = serve_argv(port, workers)
        env = clean_env({"SEGMENT_SERVER_CONFIG": str(config)})
        return spawn(argv, env, port, workers, self.root / "logs", timeout)

    def run_cli(self, *args: str, timeout: float = 120.0, sections: Sections | None = None) -> Any:
        """Run ``segment-server ARGS`` once with this workspace's config (returns CompletedProcess)."""
        import subprocess

        config = self.write_config(sections)
        return subprocess.run([*cli_argv(), *args], env=clean_env({"SEGMENT_SERVER_CONFIG": str(config)}),
                              cwd=servers.REPO, capture_output=True, timeout=timeout, check=False)


def cli_argv() -> list[str]:
    cli = servers.VENV_BIN / "segment-server"
    return [str(cli)] if cli.exists() else [str(servers.VENV_BIN / "python"), "-m", "server.cli"]


def serve_argv(port: int, workers: int) -> list[str]:
    return [*cli_argv(), "serve", "--host", servers.HOST, "--port", str(port), "--workers", str(workers)]


def spawn(argv: list[str], env: dict[str, str], port: int, workers: int, log_dir: Path,
          timeout: float) -> servers.ServerProcess:
    """Start ``argv`` with exactly ``env`` and wait for readiness (:func:`loadtest.servers.wait_ready`)."""
    import subprocess

    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"ours-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=servers.REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = servers.ServerProcess("ours", port, workers, proc, log_path, "/health/ready", env)
    try:
        servers.wait_ready(port, "/health/ready", proc, timeout)
    except servers.ServerError as exc:
        server.stop()
        raise servers.ServerError(f"port {port}: {exc}\n--- log tail ---\n{server.log_tail()}") from None
    return server


@contextlib.contextmanager
def workspace(name: str, *, keep: bool = False, users: int = DEMO_USERS) -> Iterator[Workspace]:
    root = Path(tempfile.mkdtemp(prefix=f"reliability-{name}-"))
    try:
        yield Workspace(root, users)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 when /proc has no such process)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass (never a fixed sleep as the test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False
