"""Start and stop the servers under test as subprocesses on free loopback ports.

Three targets, each on either engine (``uvicorn``: the flags ``segment-server serve`` uses —
uvloop, httptools, access log off; ``granian``: the options of :mod:`server.serving.granian_engine`)
except ``null``:

- ``ours``: ``segment-server serve`` on a given data dir (``[server] engine`` by env var);
- ``bare``: :mod:`loadtest.bare_app`, the best a Starlette app can do (the ratio's denominator);
- ``null``: :mod:`loadtest.null_server`, a raw protocol answering constant bytes — the load
  generator's own ceiling.

``cpus`` pins a server at start (``taskset``, inherited by every process it starts: granian's and
uvicorn's workers alike). Only loopback (127.0.0.1) is ever bound. Every process started here is
stopped by its own PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """A server did not become ready; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    port: int
    workers: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    engine: str = "uvicorn"

    @property
    def label(self) -> str:
        """``bare·uvicorn``, ``ours·granian``…: the row name in every table."""
        return f"{self.name}·{self.engine}"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The PIDs that serve requests: the spawned workers (granian always has some; uvicorn with
        more than one), or the process itself."""
        if self.workers <= 1 and self.engine != "granian":
            return [self.proc.pid]
        kids = [pid for pid in children(self.proc.pid) if _is_worker(pid)]
        return kids or [self.proc.pid]

    def all_pids(self) -> list[int]:
        """Every process of this server (supervisor included): what its CPU time is summed over."""
        return sorted({self.proc.pid, *self.worker_pids()})

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pin(self, cpus: set[int]) -> None:
        """Restrict every worker to ``cpus`` (best effort: ignored where affinity is unsupported)."""
        for pid in self.worker_pids():
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setaffinity(pid, cpus)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; empty where /proc is not available)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out.extend(int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    except OSError:
        return []
    return sorted(set(out))


def _is_worker(pid: int) -> bool:
    """uvicorn and granian spawn workers with multiprocessing; skip its resource tracker."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"resource_tracker" not in cmdline


def memory(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (the ``Private_*`` lines of smaps_rollup) of one process, in bytes.

    USS splits into ``private_dirty`` (heap and other anonymous memory: what a worker really
    costs) and ``private_clean`` (mostly pages of the mmap'd SQLite snapshot that only this
    worker touched so far — page cache the kernel can drop and that becomes shared, i.e. leaves
    USS, as soon as another worker reads the same page).
    """
    fields: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    for line in text.splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024
    uss = sum(v for k, v in fields.items() if k.startswith("Private_"))
    return {"rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0), "uss": uss,
            "private_dirty": fields.get("Private_Dirty", 0), "private_clean": fields.get("Private_Clean", 0),
            "anonymous": fields.get("Anonymous", 0)}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by ``pids`` (from /proc/PID/stat; 0 where unavailable)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15)
    return total


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``GET path`` over loopback until it answers 200, the process dies, or time runs out."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(request)
            head = sock.recv(64)
            if head.startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise ServerError(f"not ready after {timeout:.0f}s")


def pinned(argv: list[str], cpus: set[int] | None) -> list[str]:
    """``argv`` under ``taskset -c CPUS`` (every process it starts inherits the mask)."""
    if not cpus:
        return argv
    if shutil.which("taskset") is None:
        raise ServerError("pinning needs taskset (Debian package util-linux)")
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus)), *argv]


def _spawn(name: str, argv: list[str], env: Mapping[str, str], port: int, workers: int, ready_path: str,
           log_dir: Path, timeout: float, engine: str = "uvicorn",
           cpus: set[int] | None = None, launcher: Sequence[str] = ()) -> ServerProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{engine}-{port}.log"
    argv = pinned([*launcher, *argv], cpus)  # launcher: e.g. valgrind (loadtest.server_icount)
    # The server picks its metrics dir (<data_dir>/metrics) as in production; an inherited one
    # from the caller's environment would be shared between servers (and must exist at import).
    full_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    full_env.update(env)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = ServerProcess(name, port, workers, proc, log_path, ready_path, dict(env), engine)
    try:
        wait_ready(port, ready_path, proc, timeout)
        if workers > 1 or engine == "granian":  # one worker answered; let the others bind and import
            _wait_workers(server, timeout=min(timeout, 30.0))
    except ServerError as exc:
        server.stop()
        raise ServerError(f"{name} on port {port}: {exc}\n--- log tail ---\n{server.log_tail()}") from None
    return server


def _wait_workers(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(server.worker_pids()) < server.workers:
        time.sleep(0.1)
    time.sleep(0.5)


def settings_env(data_dir: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What every run of our server here is configured with: its data dir, warning-level logs, ``env``."""
    return {"SEGMENT_SERVER_STORE__DATA_DIR": str(data_dir), "SEGMENT_SERVER_SERVER__LOG_LEVEL": "warning",
            **(env or {})}


def start_ours(data_dir: Path, *, workers: int = 1, env: Mapping[str, str] | None = None,
               log_dir: Path | None = None, timeout: float = 60.0, engine: str | None = None,
               cpus: set[int] | None = None, launcher: Sequence[str] = ()) -> ServerProcess:
    """``segment-server serve`` on ``data_dir``; extra settings come as ``SEGMENT_SERVER_*`` env vars.

    ``engine`` overrides ``[server] engine`` (default: the shipped config's choice); ``launcher``
    is a command the server runs under (``valgrind …``)."""
    port = free_port()
    data_dir = Path(data_dir)
    engine = engine or default_engine()
    merged = settings_env(data_dir, {**(env or {}), "SEGMENT_SERVER_SERVER__ENGINE": engine})
    cli = VENV_BIN / "segment-server"
    argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "server.cli"]
    argv += ["serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return _spawn("ours", argv, merged, port, workers, "/health/ready", log_dir or data_dir / "logs", timeout,
                  engine, cpus, launcher)


def default_engine() -> str:
    """``[server] engine`` as shipped (config/default.toml alone, no environment)."""
    from server.config import load_settings

    return load_settings(env={}).server.engine


def bare_argv(engine: str, port: int, workers: int) -> list[str]:
    """The baseline app under ``engine`` with the options our server uses on it."""
    if engine == "granian":  # server.serving.granian_engine.options, as CLI flags
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", HOST, "--port", str(port),
                "--workers", str(workers), "--runtime-mode", "st", "--runtime-threads", "1",
                "--loop", "uvloop",
                "--http", "1", "--no-ws", "--backpressure", "4096", "--log-level", "warning",
                "--no-access-log", "--workers-kill-timeout", "10", "loadtest.bare_app:app"]
    return [sys.executable, "-m", "uvicorn", "loadtest.bare_app:app", "--host", HOST, "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "warning", "--timeout-graceful-shutdown", "10"]


def start_bare(*, workers: int = 1, log_dir: Path, timeout: float = 30.0, engine: str = "uvicorn",
               cpus: set[int] | None = None, launcher: Sequence[str] = ()) -> ServerProcess:
    """The baseline under ``engine`` (uvicorn: uvloop, httptools, no access log; granian: ours)."""
    port = free_port()
    return _spawn("bare", bare_argv(engine, port, workers), {}, port, workers, "/health", log_dir, timeout,
                  engine, cpus, launcher)


def start_null(*, log_dir: Path, timeout: float = 30.0, cpus: set[int] | None = None) -> ServerProcess:
    """A raw uvloop + httptools protocol with a constant answer: the generator's ceiling."""
    port = free_port()
    argv = [sys.executable, "-m", "loadtest.null_server", "--port", str(port)]
    return _spawn("null", argv, {}, port, 1, "/health", log_dir, timeout, cpus=cpus)


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        yield server
    finally:
        server.stop()


def start_operator(keys_file: Path, secret_file: Path, *, log_dir: Path,
                   timeout: float = 30.0) -> ServerProcess:
    """The fake UID2 operator (``tests/fakes``) over HTTP on loopback, serving ``keys_file``."""
    port = free_port()
    argv = [sys.executable, "-m", "loadtest.fake_operator", "--port", str(port), "--keys", str(keys_file),
            "--secret-file", str(secret_file)]
    return _spawn("uid2-operator", argv, {}, port, 1, "/health", log_dir, timeout)
