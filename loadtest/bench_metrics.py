"""µs per ``/rtd`` request spent in metric calls: today's per-call pattern vs bound children vs tallies.

One "request" replays what ``server/rtd.py`` records for a typical matched request: the request
counter, the latency and segments histograms, one privacy decision, one UID2 decryption, keys
found for ``--kinds`` kinds and a hit/miss for each of ``--keys`` lookup keys. Each mode runs in a
fresh interpreter, because prometheus-client picks its value backend (in-memory or multiprocess
mmap files) at import time; multiprocess is what ``segment-server serve`` runs.

Variants:
  current   ``M.X.labels(...).inc()`` per call, as the handlers do today
  bound     label children bound once, looked up from a dict per call
  tally     :mod:`server.observability.hotpath` dict tallies, flush every 1000 requests included

Usage: ``python loadtest/bench_metrics.py [--n 20000] [--keys 12] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("url", "ip", "uid2", "ifa", "geo", "bundle")


def _variants(keys: int, kinds: int) -> dict[str, Callable[[], None]]:
    from server import metrics as M
    from server.observability import hotpath

    lookup_keys = [(KINDS[i % kinds], "hit" if i % 3 == 0 else "miss") for i in range(keys)]
    found = [(KINDS[i], 2) for i in range(kinds)]

    lat = M.LATENCY.labels("rtd")
    seg = M.SEGMENTS_RETURNED.labels("rtd")

    def current() -> None:
        M.PRIVACY_DECISIONS.labels("allowed").inc()
        M.UID2_DECRYPT.labels("UID2", "SUCCESS", "4").inc()
        for kind, n in found:
            M.KEYS_FOUND.labels(kind).inc(n)
        for kind, result in lookup_keys:
            M.LOOKUPS.labels(kind, result).inc()
        seg.observe(7)
        M.REQUESTS.labels("rtd", "200").inc()
        lat.observe(0.00042)

    req = {("rtd", "200"): M.REQUESTS.labels("rtd", "200")}
    priv = {"allowed": M.PRIVACY_DECISIONS.labels("allowed")}
    dec = {("UID2", "SUCCESS", "4"): M.UID2_DECRYPT.labels("UID2", "SUCCESS", "4")}
    kf = {k: M.KEYS_FOUND.labels(k) for k in KINDS}
    lk = {(k, r): M.LOOKUPS.labels(k, r) for k in KINDS for r in ("hit", "miss")}

    def bound() -> None:
        priv["allowed"].inc()
        dec["UID2", "SUCCESS", "4"].inc()
        for kind, n in found:
            kf[kind].inc(n)
        for key in lookup_keys:
            lk[key].inc()
        seg.observe(7)
        req["rtd", "200"].inc()
        lat.observe(0.00042)

    t_req, t_priv = hotpath.tally(M.REQUESTS), hotpath.tally(M.PRIVACY_DECISIONS)
    t_dec, t_kf, t_lk = hotpath.tally(M.UID2_DECRYPT), hotpath.tally(M.KEYS_FOUND), hotpath.tally(M.LOOKUPS)
    h_lat, h_seg = hotpath.histogram(M.LATENCY, "rtd"), hotpath.histogram(M.SEGMENTS_RETURNED, "rtd")
    calls = [0]

    def tally() -> None:
        t_priv.add("allowed")
        t_dec.add(("UID2", "SUCCESS", "4"))
        for kind, n in found:
            t_kf.add(kind, n)
        for key in lookup_keys:
            t_lk.add(key)
        h_seg.observe(7)
        t_req.add(("rtd", "200"))
        h_lat.observe(0.00042)
        calls[0] += 1
        if calls[0] % 1000 == 0:  # a flush a second at 1000 req/s per worker, charged to requests
            hotpath.flush()

    return {"current": current, "bound": bound, "tally": tally}


def _measure(fn: Callable[[], None], n: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def run_mode(n: int, keys: int, kinds: int) -> dict[str, float]:
    variants = _variants(keys, kinds)
    empty = _measure(lambda: None, n)
    return {name: round(_measure(fn, n) - empty, 3) for name, fn in variants.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="requests per timing run (best of 5)")
    parser.add_argument("--keys", type=int, default=12, help="lookup keys per request")
    parser.add_argument("--kinds", type=int, default=4, help="key kinds found per request")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", choices=("single", "multiprocess"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.n, args.keys, args.kinds)))
        return
    results: dict[str, Any] = {"n": args.n, "keys_per_request": args.keys, "kinds_per_request": args.kinds,
                               "python": sys.version.split()[0], "us_per_request": {}}
    for mode in ("single", "multiprocess"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = tmp
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--n", str(args.n),
                                  "--keys", str(args.keys), "--kinds", str(args.kinds)],
                                 env=env, check=True, capture_output=True, text=True).stdout
        results["us_per_request"][mode] = json.loads(out)
    print(f"metric cost per /rtd request ({args.keys} lookup keys, {args.kinds} kinds), µs:")
    print(f"  {'variant':10} {'single':>10} {'multiproc':>10}")
    for variant in results["us_per_request"]["single"]:
        single = results["us_per_request"]["single"][variant]
        multi = results["us_per_request"]["multiprocess"][variant]
        print(f"  {variant:10} {single:10.2f} {multi:10.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
