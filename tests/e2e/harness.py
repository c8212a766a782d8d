"""Start the real ``segment-server`` CLI as a subprocess, the way an operator does.

Configuration reaches the process only through ``SEGMENT_SERVER_CONFIG`` (a temp TOML file): every
other ``SEGMENT_SERVER_*``, ``PROMETHEUS_*``, ``UID2_*`` and ``EUID_*`` variable of the test run is
removed from the child's environment, so a test cannot pass because of something the suite set.
``SEGMENT_SERVER_NATIVE`` is kept: it selects the compiled or plain hot path the pass is testing.

Servers bind free loopback ports (port 0 probe), their stdout and stderr go to separate files so a
test can hold stdout to its promise ("one JSON object per line"), and every wait is a condition
polled under a generous deadline, never a sleep that hopes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("segment-server")
READY_DEADLINE = 60.0  # start-up takes 1-2 s; a loaded 2-core CI box gets a generous cap
KEPT = ("SEGMENT_SERVER_NATIVE",)
DROPPED = ("SEGMENT_SERVER_", "PROMETHEUS_", "UID2_", "EUID_")

TomlTables = Mapping[str, Mapping[str, Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def write_config(path: Path, tables: TomlTables) -> Path:
    lines: list[str] = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in keys.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def cli_env(config: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT or not k.startswith(DROPPED)}
    env["SEGMENT_SERVER_CONFIG"] = str(config)
    env.update(extra or {})
    return env


def run_cli(config: Path, *args: str, timeout: float = 120, cwd: Path | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One CLI command to completion; the caller checks exit code and output. It runs in the config's
    directory, so a command that ignored the config and fell back to ./data writes there, not in
    the checkout."""
    return subprocess.run([str(CLI), *args], env=cli_env(config, env), cwd=cwd or config.parent, capture_output=True,
                          text=True, timeout=timeout, check=False)


def post_fresh(port: int, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """One POST on a new connection (so a multi-worker server spreads them): the stdlib client,
    since an ``httpx.Client`` per request costs an SSL context each (~20 ms of a shared core)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_for(predicate: Callable[[], bool], deadline_s: float, what: Callable[[], object] | str = "") -> None:
    """Poll ``predicate`` until it holds; the deadline is a cap for a stuck process, not a measurement."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s} s: {what() if callable(what) else what}")
        time.sleep(0.05)


@dataclass
class Server:
    """A ``segment-server serve`` process and the files it writes to."""

    proc: subprocess.Popen[bytes]
    port: int
    config: Path
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def records(self) -> list[dict[str, Any]]:
        """stdout's JSON lines (lines that are not JSON are the subject of their own test)."""
        out = []
        for line in self.stdout().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
        return out

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        bearer = self.token if token is None else token
        headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.Client(base_url=self.base, timeout=10, headers=headers, **kwargs)

    def tail(self) -> str:
        return f"--- stdout ---\n{self.stdout()[-2500:]}\n--- stderr ---\n{self.stderr()[-2500:]}"

    def wait_ready(self, status: int = 200, path: str = "/health/ready") -> httpx.Response:
        last: list[httpx.Response] = []

        def answered() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}\n{self.tail()}")
            try:
                last[:] = [httpx.get(self.base + path, timeout=2)]
            except httpx.HTTPError:
                return False
            return last[0].status_code == status

        wait_for(answered, READY_DEADLINE, lambda: f"{path} never answered {status}\n{self.tail()}")
        return last[0]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def base_tables(data_dir: Path, port: int) -> dict[str, dict[str, Any]]:
    """What an operator's config file would say: a data dir and a port, everything else default."""
    return {"server": {"host": "127.0.0.1", "port": port}, "store": {"data_dir": str(data_dir)}}


def merge(tables: TomlTables, more: TomlTables) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in tables.items()}
    for table, keys in more.items():
        out.setdefault(table, {}).update(keys)
    return out


def start_server(tmp: Path, *, workers: int | None = None, tables: TomlTables = {},  # noqa: B006
                 demo_users: int | None = 200, ready: int | None = 200,
                 serve_args: Iterable[str] = ()) -> Server:
    """Write the config, optionally load the demo data set, start ``serve`` and wait for readiness."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "data"
    port = free_port()
    config = write_config(tmp / "segment-server.toml", merge(base_tables(data_dir, port), tables))
    if demo_users is not None:
        done = run_cli(config, "demo", "--users", str(demo_users))
        assert done.returncode == 0, done.stderr
    args = [str(CLI), "serve", *(["--workers", str(workers)] if workers else []), *serve_args]
    stdout_path, stderr_path = tmp / "stdout.log", tmp / "stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(args, env=cli_env(config), cwd=tmp, stdout=out, stderr=err)
    server = Server(proc, port, config, data_dir, stdout_path, stderr_path)
    try:
        if ready is not None:
            server.wait_ready(ready)
    except BaseException:
        server.stop()
        raise
    return server


def demo_token(server: Server) -> str:
    done = run_cli(server.config, "demo-token")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
