"""Start the real ``segment-server`` CLI as a subprocess, the way an operator does — one helper for
every test package that needs the process rather than the app in-process.

Why one module: the fault, metrics, privacy, gRPC, cluster and end-to-end tests each grew their own
copy of "free port, temp config, clean environment, wait, stop", and the copies drifted (some kept
``UID2_*`` from the test run, some dropped ``SEGMENT_SERVER_NATIVE`` so the plain pass served the
compiled path). Here is the one reading of the rules in GUIDE.md:

- Configuration reaches the process only through ``SEGMENT_SERVER_CONFIG`` (a temp TOML file): every
  other ``SEGMENT_SERVER_*``, ``PROMETHEUS_*``, ``UID2_*`` and ``EUID_*`` variable of the test run is
  removed from the child's environment, so a test cannot pass because of something the suite set.
  ``SEGMENT_SERVER_NATIVE`` is kept: it selects the compiled or plain hot path the pass is testing.
- Servers bind free loopback ports (port 0 probe), never a fixed one: the machine is shared.
- stdout and stderr go to files (separate, so a test can hold stdout to its promise of "one JSON
  object per line", or merged into one log when order matters more than the stream).
- Every wait is a condition polled under a generous deadline, never a sleep that hopes, and a
  process that dies while being waited on fails at once with the tail of its output.
- Stopping is SIGTERM (what an orchestrator sends), then SIGKILL if it does not end in time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

CLI = Path(sys.executable).with_name("segment-server")
READY_DEADLINE = 60.0  # start-up takes 1-2 s; a loaded 2-core CI box gets a generous cap
STOP_DEADLINE = 30.0  # SIGTERM drains in-flight requests; past this the process is killed
KEPT = ("SEGMENT_SERVER_NATIVE",)
DROPPED = ("SEGMENT_SERVER_", "PROMETHEUS_", "UID2_", "EUID_")

TomlTables = Mapping[str, Mapping[str, Any]]


def free_port() -> int:
    """A loopback port nobody holds right now (the kernel's pick for port 0)."""
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


def toml_text(tables: TomlTables) -> str:
    """TOML for flat tables of plain values (strings, paths, numbers, booleans, lists of those)."""
    lines: list[str] = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in keys.items())
        lines.append("")
    return "\n".join(lines)


def write_config(path: Path, tables: TomlTables) -> Path:
    path.write_text(toml_text(tables))
    return path


def merge(tables: TomlTables, more: TomlTables) -> dict[str, dict[str, Any]]:
    """``tables`` with ``more``'s keys added or overriding, table by table (neither is changed)."""
    out = {k: dict(v) for k, v in tables.items()}
    for table, keys in more.items():
        out.setdefault(table, {}).update(keys)
    return out


def cli_env(config: Path, extra: Mapping[str, str] | None = None, *,
            home: Path | None = None) -> dict[str, str]:
    """The parent's environment without the product's variables, plus ``SEGMENT_SERVER_CONFIG``.

    With ``home``, nothing of the parent's but ``PATH`` (and ``KEPT``): ``HOME`` is that throwaway
    dir, so a test can show a command needs nothing beyond its config file and writes nowhere else.
    """
    if home is not None:
        env = {k: v for k, v in os.environ.items() if k in (*KEPT, "PATH")}
        env["HOME"] = str(home)
    else:
        env = {k: v for k, v in os.environ.items() if k in KEPT or not k.startswith(DROPPED)}
    env["SEGMENT_SERVER_CONFIG"] = str(config)
    env.update(extra or {})
    return env


def run_cli(config: Path, *args: str, timeout: float = 120, cwd: Path | None = None,
            env: Mapping[str, str] | None = None,
            home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One CLI command to completion; the caller checks exit code and output. It runs in the config's
    directory, so a command that ignored the config and fell back to ./data writes there, not in
    the checkout. ``env`` adds variables to the clean environment; ``home``: see ``cli_env``."""
    return subprocess.run([str(CLI), *args], env=cli_env(config, env, home=home), cwd=cwd or config.parent,
                          capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(predicate: Callable[[], bool], deadline_s: float, what: Callable[[], object] | str = "",
             step_s: float = 0.05) -> float:
    """Poll ``predicate`` until it holds; the deadline is a cap for a stuck process, not a measurement.
    Returns the seconds it took, for a test that reports (never asserts) how long propagation took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"timed out after {deadline_s} s: {what() if callable(what) else what}")
        time.sleep(step_s)
    return time.monotonic() - start


@dataclass
class Server:
    """A running ``segment-server`` command (usually ``serve``) and the files it writes to.

    ``stdout_path`` and ``stderr_path`` are the same file when the output was merged. Use it as a
    context manager to stop it however the block ends.
    """

    proc: subprocess.Popen[bytes]
    port: int
    config: Path
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    env: dict[str, str] = field(default_factory=dict)
    token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The file stdout went to (all the output, when it was merged)."""
        return self.stdout_path

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return "" if self.stderr_path == self.stdout_path else self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def lines(self) -> list[str]:
        return self.stdout().splitlines()

    def records(self) -> list[dict[str, Any]]:
        """stdout's JSON lines (lines that are not JSON are the subject of their own test)."""
        out = []
        for line in self.lines():
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
        if self.stderr_path == self.stdout_path:
            return f"--- output ---\n{self.stdout()[-3000:]}"
        return f"--- stdout ---\n{self.stdout()[-2500:]}\n--- stderr ---\n{self.stderr()[-2500:]}"

    def wait_until(self, predicate: Callable[[], bool], what: str, deadline_s: float = READY_DEADLINE,
                   step_s: float = 0.05) -> None:
        """Poll ``predicate`` (an HTTP error counts as "not yet") until it holds; fail at once, with the
        output, if the process exits meanwhile."""

        def holds() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.proc.returncode} waiting for {what}\n{self.tail()}")
            try:
                return predicate()
            except httpx.HTTPError:
                return False

        wait_for(holds, deadline_s, lambda: f"{what}\n{self.tail()}", step_s)

    def wait_ready(self, status: int | tuple[int, ...] = 200, path: str = "/health/ready",
                   deadline_s: float = READY_DEADLINE) -> httpx.Response:
        """Wait until ``path`` answers ``status`` (one of them, for a tuple); that answer."""
        wanted = status if isinstance(status, tuple) else (status,)
        last: list[httpx.Response] = []

        def answered() -> bool:
            last[:] = [httpx.get(self.base + path, timeout=2)]
            return last[0].status_code in wanted

        self.wait_until(answered, f"{path} to answer {status}", deadline_s)
        return last[0]

    def stop(self, sig: int = signal.SIGTERM, deadline_s: float = STOP_DEADLINE) -> int:
        """Send ``sig`` (SIGKILL if it does not end within the deadline); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=deadline_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def spawn(config: Path, *args: str, port: int, logs: Path, data_dir: Path | None = None, merged: bool = False,
          cwd: Path | None = None, env: Mapping[str, str] | None = None, home: Path | None = None) -> Server:
    """Start ``segment-server *args`` (not waited on). Output goes to ``logs.out``/``logs.err``, or all
    of it to ``logs`` itself when ``merged``; ``port`` is where the test will reach it (from the
    config or a ``--port`` in ``args``; 0 for a command that serves nothing)."""
    stdout_path = logs if merged else logs.with_name(logs.name + ".out")
    stderr_path = logs if merged else logs.with_name(logs.name + ".err")
    child_env = cli_env(config, env, home=home)
    with stdout_path.open("wb") as out, (open(os.devnull, "wb") if merged else stderr_path.open("wb")) as err:
        proc = subprocess.Popen([str(CLI), *args], env=child_env, cwd=cwd or config.parent, stdout=out,
                                stderr=subprocess.STDOUT if merged else err)
    return Server(proc, port, config, data_dir if data_dir is not None else config.parent / "data",
                  stdout_path, stderr_path, child_env)


def serve_ready(config: Path, *args: str, port: int, logs: Path,
                ready: Callable[[Server], object] | None = None, **kwargs: Any) -> Server:
    """``spawn(config, "serve", *args, ...)`` and wait until it is ready (``/health/ready`` answers 200,
    or ``ready(server)`` returns); a server that never gets there is stopped before the failure."""
    server = spawn(config, "serve", *args, port=port, logs=logs, **kwargs)
    try:
        if ready is None:
            server.wait_ready()
        else:
            ready(server)
    except BaseException:
        server.stop()
        raise
    return server
