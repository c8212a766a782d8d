"""Docker: build the image, run it, check non-root, healthcheck and the demo; skip where no daemon answers.

Where ``docker info`` answers: ``docker build`` (full run only: the build downloads the base image
and wheels), the demo data loaded into a fresh volume (``/health/ready`` is 503 until data is
loaded), ``docker run`` on that volume with a published loopback port: the container's user id must
not be 0, its HEALTHCHECK must report ``healthy`` and ``/health/ready`` must answer 200. Then
``docker compose up`` of the repository's docker-compose.yml (its one-shot ``demo`` service loads the
data, ``server`` serves it) must answer ready on 127.0.0.1:8080. ``--quick`` only checks that a daemon
is there. Without a daemon the check is skipped and says why.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
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
    tried = ("docker build, demo into a volume, run as non-root, HEALTHCHECK healthy, "
             "/health/ready from the container")
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
    volume = "segment-server-reliability"
    _docker("volume", "rm", "-f", volume)
    demo = _docker("run", "--rm", "-v", f"{volume}:/data", TAG, "demo", "--users", "1000", timeout=300)
    details["demo_exit"] = demo.returncode
    port = servers.free_port()
    started = _docker("run", "-d", "--rm", "-v", f"{volume}:/data", "-p", f"127.0.0.1:{port}:8080", TAG)
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
        _docker("volume", "rm", "-f", volume)
    details.update({"health": health, "uid": uid, "ready": ready.stdout.strip()})
    compose = _compose_serves_the_demo()
    details["compose"] = compose
    passed = (health == "healthy" and uid not in ("", "0") and ready.stdout.strip() == "200"
              and compose == "ready 200")
    return harness.CheckResult("docker", tried + "; docker compose up serves the demo",
                               f"built; health {health}; uid {uid}; ready {ready.stdout.strip()}; "
                               f"compose {compose}",
                               passed, details)


def _compose_serves_the_demo() -> str:
    """``docker compose up`` as a fresh clone would run it: the demo service loads, the server serves."""
    project = ["compose", "-p", "segserver-reliability", "-f", str(servers.REPO / "docker-compose.yml")]
    up = _docker(*project, "up", "-d", "--build", timeout=1200)
    try:
        if up.returncode != 0:
            return f"up failed: {(up.stdout + up.stderr)[-300:]}"
        deadline = time.monotonic() + 120
        status = "no answer"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8080/health/ready", timeout=2) as answer:
                    status = f"ready {answer.status}"
                    break
            except OSError as exc:  # not up yet, or 503 until the demo service has loaded
                status = f"not ready: {exc}"
            time.sleep(2)
        return status
    finally:
        _docker(*project, "down", "-v", timeout=300)
