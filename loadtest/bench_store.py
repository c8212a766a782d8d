"""Store benchmark (issue #3, ``make bench-store``): load time, batched-lookup latency, worker memory.

For each size (default 1 M users × 5 segments; add 10 M with ``--large`` or
``BENCH_STORE_LARGE=1`` — it takes many minutes):

1. generate the deterministic demo data set (``segments.demo``; timed separately, not a target);
2. bulk-load it into a fresh data dir (``segments.loader.load``)  → target 10 M ≤ 120 s;
3. time ``SQLiteStore.lookup`` on /rtd-shaped key batches (one user key, page-URL prefixes,
   domains, IP candidates, geo; half the user keys hit) → target p99 ≤ 20 µs;
4. serve it with ``segment-server serve --workers 2``, send /rtd traffic over every key kind, and
   read each worker's private memory (USS = the ``Private_*`` lines of ``/proc/PID/smaps_rollup``)
   → target ≤ 300 MB per worker.

    python -m loadtest.bench_store [--users 1000000 ...] [--large] [--json out.json]
                                   [--work-dir DIR --keep] [--reuse]

``--reuse`` keeps a data dir already loaded by an earlier run with ``--keep`` (its recorded
load time is reported, flagged ``reused``).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

TARGETS = {"lookup_p99_us": 20.0, "load_10m_seconds": 120.0, "uss_per_worker_mb": 300.0}
LARGE = 10_000_000
SEED = 7


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100.0 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def prepare(users: int, work: Path, *, reuse: bool = False) -> dict[str, Any]:
    """Generate and load ``users`` demo users into ``work/data``; returns timings and sizes."""
    from segments import demo
    from segments.loader import load

    state_path = work / "prepare.json"
    if reuse and state_path.exists():
        state: dict[str, Any] = orjson.loads(state_path.read_bytes())
        if state.get("users") == users and state.get("seed") == SEED:
            state["reused"] = True
            return state
    shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tax, mem = demo.write(work / "gen", users, SEED)
    gen_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = load(work / "data", [mem], [tax], mode="replace")
    load_seconds = time.perf_counter() - started
    state = {"users": users, "seed": SEED, "generate_seconds": round(gen_seconds, 2),
             "load_seconds": round(load_seconds, 2), "rows": report.rows, "keys": report.keys,
             "rejected": len(report.rejected), "snapshot_bytes": Path(report.path).stat().st_size,
             "input_bytes": mem.stat().st_size, "reused": False}
    shutil.rmtree(work / "gen", ignore_errors=True)
    state_path.write_bytes(orjson.dumps(state))
    return state


def sample_user_keys(data_dir: Path, count: int, rng: random.Random) -> list[str]:
    """Hit keys spread over the whole key space: random seeks into the members B-tree."""
    from segments.store import SnapshotDir

    path = SnapshotDir(data_dir).current_path()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/"
    out: list[str] = []
    try:
        for i in range(count):
            prefix = ("uid2:", "ifa:", "eid:liveramp.com:XY", "user_id:u")[i % 4]
            probe = prefix + "".join(rng.choice(alphabet[:16] if i % 4 else alphabet) for _ in range(4))
            row = conn.execute("SELECT key FROM members WHERE key >= ? ORDER BY key LIMIT 1", (probe,)).fetchone()
            if row and row[0].startswith(prefix.split(":")[0]):
                out.append(row[0])
    finally:
        conn.close()
    return out


def lookup_batches(hits: list[str], count: int, rng: random.Random) -> list[list[str]]:
    """/rtd-shaped key lists, built the way ``server.lookup.collect_keys`` orders them."""
    from segments import demo
    from segments import keys as K

    batches: list[list[str]] = []
    for i in range(count):
        keys: list[str] = []
        if i % 2 == 0 and hits:
            keys.append(rng.choice(hits))
        else:
            keys.append(K.make(K.UID2, demo.raw_uid2(rng)))
        domain = rng.choice([*demo.DOMAINS, "unknown-publisher.test"])
        section = rng.choice(demo.SECTIONS)
        page = f"{domain}/{section}/article-{rng.randrange(10_000)}".replace("//", "/")
        parts = page.split("/")
        keys.extend(K.make(K.URL, "/".join(parts[:n])) for n in range(len(parts), 0, -1))
        keys.append(K.make(K.DOMAIN, domain))
        keys.append(K.make(K.GEO, f"USA:{rng.randrange(10_000, 99_999)}"))
        ip = f"198.51.{rng.choice([100, 7])}.{rng.randrange(256)}"
        keys.extend([K.make(K.IP, f"{ip}/32"), K.make(K.IP, ip.rsplit(".", 1)[0] + ".0/24")])
        batches.append(keys)
    return batches


def measure_lookups(data_dir: Path, *, batches: int = 20_000, seed: int = 11, rounds: int = 3) -> dict[str, Any]:
    """Lookup latency over ``rounds`` rounds of fresh batches; the round with the median p99 is reported.

    One round's p99 moved between 17 and 35 µs on the shared VM with nothing changed (a
    neighbour's burst lands on 1 % of a 0.3 s round); the median of three is the steady figure, and
    every round's p99 is kept in the JSON.
    """
    from segments.store import SQLiteStore
    from server.config import StoreSettings
    from server.runtime import freeze_startup_heap

    rng = random.Random(seed)
    store = SQLiteStore(data_dir, prewarm=StoreSettings().prewarm)  # as a serving worker opens it
    hits = sample_user_keys(data_dir, 2000, rng)
    work = [lookup_batches(hits, batches, rng) for _ in range(rounds)]
    now = time.time()
    try:
        for keys in work[0][: min(2000, batches)]:  # warm the statement cache and the pages we touch first
            store.lookup(keys, now)
        # As in a serving worker (server.runtime, applied at the end of startup): what exists now
        # is long-lived, so full GC passes do not walk it in the middle of a lookup.
        freeze_startup_heap()
        measured = [_time_lookups(store, batch_set, now) for batch_set in work]
    finally:
        store.close()
        gc.unfreeze()
    measured.sort(key=lambda m: m["p99_us"])
    out = measured[len(measured) // 2]
    out["round_p99_us"] = [m["p99_us"] for m in measured]
    return out


def _time_lookups(store: Any, work: list[list[str]], now: float) -> dict[str, Any]:
    samples: list[float] = []
    hit_count = 0
    clock = time.perf_counter_ns
    for keys in work:
        t0 = clock()
        result = store.lookup(keys, now)
        samples.append((clock() - t0) / 1000.0)
        hit_count += bool(result.hits)
    samples.sort()
    return {"lookups": len(samples), "keys_per_lookup": round(statistics.fmean(len(k) for k in work), 1),
            "lookups_with_a_hit": hit_count, "p50_us": round(_percentile(samples, 50), 2),
            "p90_us": round(_percentile(samples, 90), 2), "p99_us": round(_percentile(samples, 99), 2),
            "p99_9_us": round(_percentile(samples, 99.9), 2), "mean_us": round(statistics.fmean(samples), 2)}


def measure_worker_memory(data_dir: Path, users: int, *, seconds: float = 4.0, rate: float = 1000.0
                          ) -> dict[str, Any]:
    """2 workers serving /rtd traffic over every key kind; USS/PSS/RSS per worker afterwards."""
    from loadtest import generator, servers, traffic

    with servers.start_ours(data_dir, workers=2, log_dir=data_dir.parent / "logs") as server:
        plan = traffic.TrafficPlan(users=min(users, 20_000), seed=SEED)
        mix = traffic.build(plan, count=2000, endpoint="rtd",
                            bearer=traffic.bearer_token(data_dir))
        before = {pid: servers.memory(pid) for pid in server.worker_pids()}
        result = generator.run(mix, rate=rate, seconds=seconds, port=server.port)
        after = {pid: servers.memory(pid) for pid in server.worker_pids()}
    mb = 1024 * 1024
    workers = [{"pid": pid, "uss_mb": round(m["uss"] / mb, 1), "pss_mb": round(m["pss"] / mb, 1),
                "rss_mb": round(m["rss"] / mb, 1), "private_dirty_mb": round(m["private_dirty"] / mb, 1),
                "private_clean_mb": round(m["private_clean"] / mb, 1),
                "uss_before_traffic_mb": round(before.get(pid, {}).get("uss", 0) / mb, 1)}
               for pid, m in after.items()]
    return {"workers": workers, "max_uss_mb": max((w["uss_mb"] for w in workers), default=0.0),
            "traffic": {"requests": result["sent"], "ok": result["ok"], "errors": result["errors"],
                        "p99_ms": result["latency_ms"]["p99"]}}


def run_size(users: int, work: Path, *, reuse: bool, memory: bool = True, batches: int = 20_000) -> dict[str, Any]:
    print(f"[bench_store] {users:,} users: generate + load …", file=sys.stderr, flush=True)
    prep = prepare(users, work, reuse=reuse)
    print(f"[bench_store]   load {prep['load_seconds']} s; lookups …", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"users": users, "prepare": prep, "lookup": measure_lookups(work / "data", batches=batches)}
    if memory:
        print("[bench_store]   2 workers serving: memory …", file=sys.stderr, flush=True)
        out["memory"] = measure_worker_memory(work / "data", users)
    return out


def verdicts(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Each issue-3 target: the measured value and whether it is met (``None`` = not measured)."""
    p99 = max((s["lookup"]["p99_us"] for s in sizes), default=None)
    large = [s for s in sizes if s["users"] >= LARGE]
    load_10m = large[0]["prepare"]["load_seconds"] if large else None
    uss = max((s["memory"]["max_uss_mb"] for s in sizes if "memory" in s), default=None)
    return {
        "lookup_p99_us": {"value": p99, "target": TARGETS["lookup_p99_us"],
                          "met": None if p99 is None else p99 <= TARGETS["lookup_p99_us"]},
        "load_10m_seconds": {"value": load_10m, "target": TARGETS["load_10m_seconds"],
                             "met": None if load_10m is None else load_10m <= TARGETS["load_10m_seconds"]},
        "uss_per_worker_mb": {"value": uss, "target": TARGETS["uss_per_worker_mb"],
                              "met": None if uss is None else uss <= TARGETS["uss_per_worker_mb"]},
    }


def run(users: list[int], *, work_dir: Path | None = None, keep: bool = False, reuse: bool = False,
        memory: bool = True, batches: int = 20_000) -> dict[str, Any]:
    root = work_dir or Path(tempfile.mkdtemp(prefix="bench-store-"))
    sizes = []
    try:
        for n in users:
            sizes.append(run_size(n, root / f"u{n}", reuse=reuse, memory=memory, batches=batches))
    finally:
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return {"sizes": sizes, "targets": verdicts(sizes)}


def table(result: dict[str, Any]) -> str:
    rows = [("| users | generate s | load s | snapshot MB | lookup p50 µs | p99 µs | p99.9 µs | keys/lookup "
             "| USS/worker MB (2 workers; of which private dirty) |"),
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in result["sizes"]:
        p, lk = s["prepare"], s["lookup"]
        uss = " / ".join(f"{w['uss_mb']} ({w.get('private_dirty_mb', '?')} dirty)"
                         for w in s.get("memory", {}).get("workers", [])) or "–"
        rows.append(f"| {s['users']:,} | {p['generate_seconds']} | {p['load_seconds']}"
                    f"{' (reused)' if p.get('reused') else ''} | {p['snapshot_bytes'] / 2**20:.0f} "
                    f"| {lk['p50_us']} | {lk['p99_us']} | {lk['p99_9_us']} | {lk['keys_per_lookup']} | {uss} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--large", action="store_true", default=os.environ.get("BENCH_STORE_LARGE") == "1",
                        help="also run 10 M users (minutes; or BENCH_STORE_LARGE=1)")
    parser.add_argument("--work-dir", type=Path, help="keep data here (default: a temp dir, removed)")
    parser.add_argument("--keep", action="store_true", help="keep --work-dir data for --reuse")
    parser.add_argument("--reuse", action="store_true", help="reuse a data dir loaded by an earlier --keep run")
    parser.add_argument("--no-memory", action="store_true", help="skip the 2-worker USS measurement")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    users = list(dict.fromkeys([*args.users, *([LARGE] if args.large else [])]))
    result = run(users, work_dir=args.work_dir, keep=args.keep or args.work_dir is not None, reuse=args.reuse,
                 memory=not args.no_memory)
    print(table(result))
    for name, v in result["targets"].items():
        state = "not measured" if v["met"] is None else "MET" if v["met"] else "MISSED"
        print(f"{name}: {v['value']} (target {v['target']}) {state}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
