"""``/rtd`` with ``[cluster]`` on vs off, in the same run: what the shared state costs the hot path.

Starts a throwaway engine (``scripts/start-redis.sh``, a free loopback port), then one
``segment-server serve`` (1 worker, demo data) per mode, one after the other on the same machine,
and sends the same ``/rtd`` requests from one kept-alive client. With the cluster on, each worker
also runs its sync loops (one pipelined round trip every ``sync_interval_s``); the hot path itself
has no engine call, so the ratio should be ~1.

Usage: ``python loadtest/bench_cluster.py [--requests 3000] [--json PATH]``; ~30 s in all.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("segment-server"))
BODY = {"id": "bench", "imp": [{"id": "1"}], "site": {"domain": "example.com", "page": "https://example.com/section"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_engine() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(["sh", str(ROOT / "scripts" / "start-redis.sh")], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("redis://"):
        raise SystemExit(f"scripts/start-redis.sh did not start an engine: {url!r}")
    time.sleep(0.5)
    return proc, url


def run_mode(root: Path, cluster: bool, url: str, requests: int) -> dict[str, float]:
    data, port = root / "data", free_port()
    root.mkdir(parents=True)
    config = root / "server.toml"
    config.write_text(f'[store]\ndata_dir = "{data}"\n'
                      f'[server]\nhost = "127.0.0.1"\nport = {port}\nworkers = 1\n'
                      f'[cluster]\nenabled = {"true" if cluster else "false"}\nurl = "{url}"\n'
                      f'key_prefix = "bench-{root.name}"\n')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_SERVER_")},
           "SEGMENT_SERVER_CONFIG": str(config)}
    subprocess.run([CLI, "demo", "--users", "1000"], env=env, check=True, capture_output=True)
    token = subprocess.run([CLI, "demo-token"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    server = subprocess.Popen([CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health/ready", timeout=1).json().get("status") in ("ready", "degraded"):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"server (cluster {cluster}) did not become ready")
            time.sleep(0.1)
        body = orjson.dumps(BODY)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
            for _ in range(200):  # warm-up
                client.post("/rtd", content=body)
            times = []
            started = time.perf_counter()
            for _ in range(requests):
                t0 = time.perf_counter()
                answer = client.post("/rtd", content=body)
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
            elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            print(f"warning: serve (cluster {cluster}) did not stop within 30 s of SIGTERM; killed",
                  file=sys.stderr)
        print(f"serve (cluster {cluster}) stopped {time.monotonic() - stopping:.2f} s after SIGTERM",
              file=sys.stderr)
    times.sort()
    return {"requests_per_s": requests / elapsed, "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(len(times) * 0.99) - 1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    engine, url = start_engine()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            results: dict[str, Any] = {}
            for mode in ("off", "on", "off2", "on2"):  # interleaved: drift on a shared box hits both
                results[mode] = run_mode(Path(tmp) / mode, mode.startswith("on"), url, args.requests)
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        engine.wait(10)
    off = (results["off"]["requests_per_s"] + results["off2"]["requests_per_s"]) / 2
    on = (results["on"]["requests_per_s"] + results["on2"]["requests_per_s"]) / 2
    results["ratio_on_off"] = on / off
    for mode in ("off", "on", "off2", "on2"):
        r = results[mode]
        print(f"cluster {mode:4}: {r['requests_per_s']:7.0f} req/s  "
              f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
    print(f"/rtd throughput, cluster on / off: {results['ratio_on_off']:.3f}")
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
