"""kill -9 during a bulk load: of the loader, and of the server — the old snapshot keeps serving.

A server serves the small demo snapshot; ``segment-server load --replace`` starts on a bigger demo
data set. Two kills, each counted:

1. the *loader* is killed once its staging file (``snap-*.tmp``) is being written: ``CURRENT`` must
   not move, a probe of a known key must keep answering its segments throughout (every probe is
   counted), and the next load must remove the stale staging file and publish;
2. the *server* is killed (-9) while that next load runs: the load still publishes, and the
   restarted server serves the new snapshot.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from loadtest.reliability import harness
from loadtest.servers import ServerProcess

HIT = "/segments?url=example.com/sports/football"


class Prober(threading.Thread):
    """``GET`` a known key every 10 ms; counts statuses and answers without segments."""

    def __init__(self, server: ServerProcess, bearer: str) -> None:
        super().__init__(daemon=True)
        self.server, self.bearer = server, bearer
        self.outcomes: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        # A cap, not a latency bound: the loader and the neighbours share 2 cores with the server, and
        # a probe that merely waits longer than 2 s there is still an answer from the old snapshot.
        with httpx.Client(base_url=self.server.base_url, timeout=10.0) as http:
            while not self.stop.is_set():
                try:
                    r = http.get(HIT, headers={"Authorization": f"Bearer {self.bearer}"})
                    hit = r.status_code != 200 or r.json().get("segment_ids")
                    key = str(r.status_code) if hit else "200-empty"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                self.outcomes[key] += 1
                time.sleep(0.01)


def _loader(ws: harness.Workspace, tax: Path, mem: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*harness.cli_argv(), "load", "--replace", "--taxonomy", str(tax), str(mem)],
                            env=harness.clean_env({"SEGMENT_SERVER_CONFIG": str(ws.config_path)}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _staging(ws: harness.Workspace) -> list[Path]:
    return sorted((ws.data_dir / "store").glob("snap-*.tmp"))


def run(quick: bool) -> harness.CheckResult:
    from segments import demo

    users = 60_000 if quick else 400_000
    details: dict[str, Any] = {"users_loaded": users}
    with harness.workspace("loadkill") as ws:
        ws.load_demo()
        bearer = ws.bearer()
        tax, mem = demo.write(ws.root / "big", users, 11)
        current = ws.data_dir / "store" / "CURRENT"
        server = ws.start()
        try:
            before = current.read_text()
            prober = Prober(server, bearer)
            prober.start()
            loader = _loader(ws, tax, mem)
            seen = harness.wait_for(lambda: any(p.stat().st_size > 0 for p in _staging(ws)), 60.0, 0.02)
            time.sleep(0.3 if quick else 1.0)  # well inside the load
            still_loading = loader.poll() is None
            loader.send_signal(signal.SIGKILL)
            loader.wait(10)
            time.sleep(1.0)
            prober.stop.set()
            prober.join(5)
            left = [p.name for p in _staging(ws)]
            details["loader_kill"] = {"staging_seen": seen, "killed_mid_load": still_loading,
                                      "current_unchanged": current.read_text() == before,
                                      "stale_staging_left": left, "probes": dict(prober.outcomes)}
            server, details["server_kill"] = _kill_server_during_load(ws, server, bearer, tax, mem)
        finally:
            server.stop()
    lk, sk = details["loader_kill"], details["server_kill"]
    probes_ok = set(lk["probes"]) == {"200"}
    passed = (lk["staging_seen"] and lk["killed_mid_load"] and lk["current_unchanged"] and probes_ok
              and sk["load_exit"] == 0 and sk["stale_removed"] and sk["serves_new"])
    figure = (f"loader -9 mid-load: CURRENT {'unchanged' if lk['current_unchanged'] else 'MOVED'}, probes "
              f"{sum(lk['probes'].values())} ({', '.join(f'{k}: {v}' for k, v in lk['probes'].items())}); "
              f"server -9 mid-load: load exit {sk['load_exit']}, stale .tmp removed: {sk['stale_removed']}, "
              f"restarted server serves {sk['serving']}")
    return harness.CheckResult(
        "kill-during-load", f"kill -9 of `segment-server load --replace` ({users:,} users) and of the server "
        "during a load", figure, passed, details)


def _kill_server_during_load(ws: harness.Workspace, server: ServerProcess, bearer: str, tax: Path,
                             mem: Path) -> tuple[ServerProcess, dict[str, Any]]:
    loader = _loader(ws, tax, mem)
    harness.wait_for(lambda: loader.poll() is not None or bool(_staging(ws)), 60.0, 0.02)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    _out, err = loader.communicate(timeout=300)
    restarted = ws.start()
    with httpx.Client(base_url=restarted.base_url, timeout=5.0) as http:
        ready = http.get("/health/ready").json()
        hit = http.get(HIT, headers={"Authorization": f"Bearer {bearer}"})
    serving = str(ready.get("checks", {}).get("store", {}).get("detail"))
    current = (ws.data_dir / "store" / "CURRENT").read_text().strip()
    version = int(current.removeprefix("snap-").removesuffix(".sqlite"))
    return restarted, {"load_exit": loader.returncode, "stale_removed": b"left by a killed load" in err,
                       "load_stderr": err.decode(errors="replace")[-400:], "current": current,
                       "serving": serving[:120],
                       "serves_new": version > 1 and f"snapshot v{version}," in serving,
                       "hit_status": hit.status_code}
