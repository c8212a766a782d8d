"""Docker: build the image, run it, check non-root, healthcheck and the demo; skip where no daemon answers.

Where ``docker info`` answers: ``docker build`` (full run only: the build downloads the base image
and wheels), ``docker run`` with a published loopback port, the container's user id must not be
0, its HEALTHCHECK must report ``healthy`` and ``/health/ready`` must answer. ``--quick`` only
checks that a daemon is there. Without a daemon the check is skipped and says why.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

from loadtest import servers
from loadtest.reliability import harness

TAG = "segment-server:reliability"


def _docker(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def daemon_problem() -> str | None:
    """Why Docker cannot be used here, or None when a daemon answers."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"no docker daemon answers ({reason[:160]})"
    return None


def run(quick: bool) -> harness.CheckResult:
    tried = "docker build, run as non-root, HEALTHCHECK healthy, /health/ready from the container"
    problem = daemon_problem()
    if problem is not None:
        return harness.CheckResult("docker", tried, f"skipped: {problem}", None, {"reason": problem})
    if quick:
        return harness.CheckResult("docker", "docker daemon present (the build runs in the full suite)",
                                   "daemon answers", True)
    details: dict[str, Any] = {}
    build = _docker("build", "-t", TAG, str(servers.REPO), timeout=1200)
    details["build_exit"] = build.returncode
    if build.returncode != 0:
        details["build_tail"] = (build.stdout + build.stderr)[-1500:]
        return harness.CheckResult("docker", tried, "docker build failed", False, details)
    port = servers.free_port()
    started = _docker("run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8080", TAG)
    container = started.stdout.strip()
    try:
        health = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and health not in ("healthy", "unhealthy"):
            time.sleep(2)
            health = _docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        uid = _docker("exec", container, "id", "-u").stdout.strip()
        ready = _docker("exec", container, "python", "-c",
                        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/health/ready').status)")
    finally:
        _docker("rm", "-f", container)
    details.update({"health": health, "uid": uid, "ready": ready.stdout.strip()})
    passed = health == "healthy" and uid not in ("", "0") and ready.stdout.strip() == "200"
    return harness.CheckResult("docker", tried, f"built; health {health}; uid {uid}; ready {ready.stdout.strip()}",
                               passed, details)
