"""A real, throwaway Redis for the cluster tests (no fakeredis): installed by apt when missing.

``scripts/start-redis.sh`` does the same for people; this is the Python form a fixture can stop
and restart (the engine-down tests kill it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from tests.serverproc import free_port


def redis_binary() -> str:
    """``redis-server``, installing Debian's package first when missing (CI runs as root)."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("redis-server is missing and we are not root: apt-get install -y redis-server")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "install", "-y", "-q", "redis-server"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "redis-server"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if command[1] == "install" and done.returncode == 0:
            break
    found = shutil.which("redis-server")
    if not found:
        pytest.fail(f"could not install redis-server: {done.stderr[-2000:]}")
    return found


class RedisProcess:
    """One ``redis-server`` on a free loopback port, no persistence, in a temp dir."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = Path(tempfile.mkdtemp(prefix="segsrv-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self._dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        client.close()
        return self

    def kill(self) -> None:
        """SIGKILL, as a crashed engine host would look."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
