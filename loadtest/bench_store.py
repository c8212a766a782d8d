"""Store benchmark (issues 3 and 21, ``make bench-store``): build time, batched-lookup latency,
memory per worker — the SQLite store against an LMDB copy of the same data, in the same run.

For each size (default 1 M users × 5 segments; add 10 M with ``--large`` or
``BENCH_STORE_LARGE=1`` — about 4 minutes more):

1. generate the deterministic demo data set (``segments.demo``; timed separately, not a target);
2. bulk-load it into a fresh data dir (``segments.loader.load``)  → target 10 M ≤ 120 s; copy its
   rows into LMDB (:mod:`loadtest.store_lmdb`, with the ``lmdb`` package of the ``bench``
   extra; ``--no-lmdb`` skips it) and, for a like-for-like build figure, into a fresh SQLite file;
   cut a small LMDB copy in a child process to see what a truncated file does to a reader;
3. time ``lookup`` on /rtd-shaped key batches (one user key, page-URL prefixes, domains, IP
   candidates, geo; half the user keys hit), SQLite and LMDB taking turns round by round
   → target p99 ≤ 20 µs at 10 M users;
4. per backend, 2 reader processes on the same file, then (SQLite) ``segment-server serve
   --workers 2`` under /rtd traffic: each process's USS (the ``Private_*`` lines of
   ``/proc/PID/smaps_rollup``) and PSS → target ≤ 300 MB per worker.

    python -m loadtest.bench_store [--users 1000000 ...] [--large] [--json out.json]
                                   [--work-dir DIR --keep] [--reuse] [--no-lmdb] [--no-memory]

``--reuse`` keeps a data dir already loaded by an earlier run with ``--keep`` (its recorded
load time is reported, flagged ``reused``). The result's ``headline`` holds ``store_p99_us``: the
serving backend's batched-lookup p99 at the largest size run (10 M with ``--large``, else 1 M),
with ``users`` saying which — what ``bench_all`` puts into ``latest.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import resource
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
BACKEND = "sqlite"  # the serving backend: what the headline and the targets report
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
            row = conn.execute("SELECT key FROM members WHERE key >= ? ORDER BY key LIMIT 1",
                               (probe,)).fetchone()
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


def open_backend(name: str, data_dir: Path, lmdb_dir: Path | None) -> Any:
    """A reader, opened as a serving worker opens its store (checked, prewarmed)."""
    if name == "lmdb":
        from loadtest.store_lmdb import LMDBReader

        assert lmdb_dir is not None
        return LMDBReader(lmdb_dir)
    from segments.store import SQLiteStore

    # [store] prewarm's default; server.config is not imported here: it would add the app's modules
    # (~30 MB) to the reader processes' USS, which measure the store alone
    return SQLiteStore(data_dir, prewarm=True)


def measure_lookups(data_dir: Path, *, batches: int = 20_000, seed: int = 11, rounds: int = 5,
                    lmdb_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Batched-lookup latency per backend, over ``rounds`` rounds of fresh batches; the round with
    the median p99 is reported. Backends take turns round by round on the same batches, so a
    neighbour's burst on the shared VM hits both alike.

    One round's p99 moved between 17 and 35 µs on the shared VM with nothing changed (a
    neighbour's burst lands on 1 % of a 0.3 s round); the median of five is the steadier figure,
    and every round's p99 and preemption count is kept in the JSON. When the machine is busy for
    minutes (load average above its 2 cores), every round's p99 is the neighbours': 55–700 µs
    measured that way for both backends, against 7–10 µs quiet.
    """
    from server.runtime import freeze_startup_heap

    rng = random.Random(seed)
    names = ["sqlite", *(["lmdb"] if lmdb_dir is not None else [])]
    readers = {name: open_backend(name, data_dir, lmdb_dir) for name in names}
    hits = sample_user_keys(data_dir, 2000, rng)
    work = [lookup_batches(hits, batches, rng) for _ in range(rounds)]
    now = time.time()
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in readers}
    try:
        for reader in readers.values():  # warm the statement cache and the pages we touch first
            for keys in work[0][: min(2000, batches)]:
                reader.lookup(keys, now)
        # As in a serving worker (server.runtime, applied at the end of startup): what exists now
        # is long-lived, so full GC passes do not walk it in the middle of a lookup.
        freeze_startup_heap()
        for batch_set in work:
            for name, reader in readers.items():
                measured[name].append(_time_lookups(reader, batch_set, now))
    finally:
        for reader in readers.values():
            reader.close()
        gc.unfreeze()
    out = {}
    for name, rounds_of in measured.items():
        rounds_of.sort(key=lambda m: m["p99_us"])
        out[name] = rounds_of[len(rounds_of) // 2]
        out[name]["round_p99_us"] = [m["p99_us"] for m in rounds_of]
        out[name]["round_preempted"] = [m["preempted"] for m in rounds_of]
    return out


def _time_lookups(store: Any, work: list[list[str]], now: float) -> dict[str, Any]:
    """One round. ``preempted``: the times the kernel took the CPU away from this process during
    the round (involuntary context switches) — on a shared VM, a p99 with hundreds of them is the
    neighbours' figure, not the store's."""
    samples: list[float] = []
    hit_count = 0
    clock = time.perf_counter_ns
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    for keys in work:
        t0 = clock()
        result = store.lookup(keys, now)
        samples.append((clock() - t0) / 1000.0)
        hit_count += bool(result.hits)
    preempted = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
    samples.sort()
    return {"lookups": len(samples), "keys_per_lookup": round(statistics.fmean(len(k) for k in work), 1),
            "lookups_with_a_hit": hit_count, "p50_us": round(_percentile(samples, 50), 2),
            "p90_us": round(_percentile(samples, 90), 2), "p99_us": round(_percentile(samples, 99), 2),
            "p99_9_us": round(_percentile(samples, 99.9), 2), "mean_us": round(statistics.fmean(samples), 2),
            "preempted": preempted}


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


def _reader_process(backend: str, data_dir: str, lmdb_dir: str, hits: list[str], count: int,
                    pipe: Any) -> None:
    """One stand-in worker: open the store as a worker does, run ``count`` batched lookups, say
    so, and stay alive (holding its pages) until the parent has read its memory."""
    reader = open_backend(backend, Path(data_dir), Path(lmdb_dir))
    rng = random.Random(os.getpid())
    now = time.time()
    for keys in lookup_batches(hits, count, rng):
        reader.lookup(keys, now)
    pipe.send("ready")
    pipe.recv()
    reader.close()


def measure_reader_memory(data_dir: Path, lmdb_dir: Path | None, *, processes: int = 2,
                          lookups: int = 50_000) -> dict[str, Any]:
    """Per backend, ``processes`` reader processes on the same file, each after ``lookups`` batched
    lookups; USS/PSS/RSS of each from ``/proc/PID/smaps_rollup``. Unlike the served measurement
    below, only the store is in these processes, so the backends compare like for like."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    hits = sample_user_keys(data_dir, 2000, random.Random(SEED))
    mb = 1024 * 1024
    out: dict[str, Any] = {}
    for backend in ["sqlite", *(["lmdb"] if lmdb_dir is not None else [])]:
        children = []
        for _ in range(processes):
            mine, theirs = context.Pipe()
            child = context.Process(target=_reader_process, args=(backend, str(data_dir), str(lmdb_dir),
                                                                   hits, lookups, theirs))
            child.start()
            children.append((child, mine))
        try:
            for _, pipe in children:
                if not pipe.poll(600):
                    raise RuntimeError(f"{backend} reader process did not get ready")
                pipe.recv()
            sizes = [servers_memory(child.pid or 0) for child, _ in children]
        finally:
            for child, pipe in children:
                with contextlib.suppress(OSError):
                    pipe.send("exit")
                child.join(60)
        out[backend] = [{"uss_mb": round(m["uss"] / mb, 1), "pss_mb": round(m["pss"] / mb, 1),
                         "rss_mb": round(m["rss"] / mb, 1)} for m in sizes]
    return out


def servers_memory(pid: int) -> dict[str, int]:
    from loadtest import servers

    return servers.memory(pid)


def prepare_lmdb(work: Path, data_dir: Path, *, reuse: bool) -> dict[str, Any] | None:
    """The LMDB copy of the loaded snapshot (``None`` without the ``lmdb`` package)."""
    try:
        from loadtest import store_lmdb
    except ImportError:
        return None
    from segments.store import SnapshotDir

    env_dir = work / "lmdb"
    state_path = work / "lmdb.json"
    if reuse and state_path.exists() and (env_dir / "data.mdb").exists():
        state: dict[str, Any] = orjson.loads(state_path.read_bytes())
        return {**state, "reused": True}
    shutil.rmtree(env_dir, ignore_errors=True)
    snapshot = SnapshotDir(data_dir).current_path()
    assert snapshot is not None
    state = {**store_lmdb.build(snapshot, env_dir), "path": str(env_dir), "reused": False,
             "sqlite_copy": store_lmdb.copy_sqlite(snapshot, work / "copy.sqlite")}
    state_path.write_bytes(orjson.dumps(state))
    state["truncated_file"] = store_lmdb.truncation_probe(snapshot, work / "probe")
    shutil.rmtree(work / "probe", ignore_errors=True)
    return state


def run_size(users: int, work: Path, *, reuse: bool, memory: bool = True, batches: int = 20_000,
             lmdb: bool = True) -> dict[str, Any]:
    print(f"[bench_store] {users:,} users: generate + load …", file=sys.stderr, flush=True)
    prep = prepare(users, work, reuse=reuse)
    data = work / "data"
    built = prepare_lmdb(work, data, reuse=reuse) if lmdb else None
    lmdb_dir = Path(built["path"]) if built else None
    print(f"[bench_store]   load {prep['load_seconds']} s; lookups …", file=sys.stderr, flush=True)
    load_average = [round(x, 2) for x in os.getloadavg()]  # how busy the shared machine was
    lookups = measure_lookups(data, batches=batches, lmdb_dir=lmdb_dir)
    out: dict[str, Any] = {"users": users, "load_average": load_average, "prepare": prep,
                           "lookup": lookups["sqlite"],
                           "backends": {"sqlite": {"lookup": lookups["sqlite"]}}}
    if built is not None:
        out["backends"]["lmdb"] = {"lookup": lookups["lmdb"], "build": built}
    if memory:
        print("[bench_store]   2 reader processes per backend, then 2 workers serving: memory …",
              file=sys.stderr, flush=True)
        readers = measure_reader_memory(data, lmdb_dir)
        for name, per_process in readers.items():
            out["backends"][name]["reader_memory"] = per_process
        out["memory"] = measure_worker_memory(data, users)
    return out


def verdicts(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Each issue-3/21 target: the measured value and whether it is met (``None`` = not measured).
    The lookup target is judged at the largest size run (issue 21: "at 10 M users")."""
    largest = max(sizes, key=lambda s: s["users"], default=None)
    p99 = largest["lookup"]["p99_us"] if largest else None
    large = [s for s in sizes if s["users"] >= LARGE]
    load_10m = large[0]["prepare"]["load_seconds"] if large else None
    uss = max((s["memory"]["max_uss_mb"] for s in sizes if "memory" in s), default=None)
    return {
        "lookup_p99_us": {"value": p99, "target": TARGETS["lookup_p99_us"],
                          "users": largest["users"] if largest else None,
                          "met": None if p99 is None else p99 <= TARGETS["lookup_p99_us"]},
        "load_10m_seconds": {"value": load_10m, "target": TARGETS["load_10m_seconds"],
                             "met": None if load_10m is None else load_10m <= TARGETS["load_10m_seconds"]},
        "uss_per_worker_mb": {"value": uss, "target": TARGETS["uss_per_worker_mb"],
                              "met": None if uss is None else uss <= TARGETS["uss_per_worker_mb"]},
    }


def headline(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``bench_all`` copies into ``latest.json``: the serving backend's batched-lookup p99 at
    the largest size run (10 M with ``--large``, else 1 M), and at how many users it was measured."""
    largest = max(sizes, key=lambda s: s["users"], default=None)
    if largest is None:
        return {"store_p99_us": None, "users": None, "backend": BACKEND}
    return {"store_p99_us": largest["lookup"]["p99_us"], "store_p50_us": largest["lookup"]["p50_us"],
            "users": largest["users"], "backend": BACKEND}


def run(users: list[int], *, work_dir: Path | None = None, keep: bool = False, reuse: bool = False,
        memory: bool = True, batches: int = 20_000, lmdb: bool = True) -> dict[str, Any]:
    root = work_dir or Path(tempfile.mkdtemp(prefix="bench-store-"))
    sizes = []
    try:
        for n in users:
            sizes.append(run_size(n, root / f"u{n}", reuse=reuse, memory=memory, batches=batches, lmdb=lmdb))
    finally:
        if not keep and work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return {"sizes": sizes, "targets": verdicts(sizes), "headline": headline(sizes)}


def table(result: dict[str, Any]) -> str:
    """One row per size and backend: build, file, batched lookup, memory of 2 reader processes."""
    rows = [("| users | backend | build s | file MB | lookup p50 µs | p99 µs | p99.9 µs | keys/lookup "
             "| 2 readers: USS / PSS MB each | 2 workers serving /rtd: USS MB |"),
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for s in result["sizes"]:
        p = s["prepare"]
        for name, backend in s.get("backends", {"sqlite": {"lookup": s["lookup"]}}).items():
            lk = backend["lookup"]
            if name == "sqlite":
                build = f"{p['load_seconds']}{' (reused)' if p.get('reused') else ''}"
                size = p["snapshot_bytes"]
                served = " / ".join(f"{w['uss_mb']}" for w in s.get("memory", {}).get("workers", [])) or "–"
            else:
                built = backend["build"]
                copied = built["sqlite_copy"]["build_seconds"]
                build = f"{built['build_seconds']} (copy; SQLite copy {copied})"
                size, served = built["file_bytes"], "–"
            readers = " / ".join(f"{m['uss_mb']} / {m['pss_mb']}"
                                 for m in backend.get("reader_memory", [])) or "–"
            rows.append(f"| {s['users']:,} | {name} | {build} | {size / 2**20:.0f} | {lk['p50_us']} "
                        f"| {lk['p99_us']} | {lk['p99_9_us']} | {lk['keys_per_lookup']} | {readers} "
                        f"| {served} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--large", action="store_true",
                        default=os.environ.get("BENCH_STORE_LARGE") == "1",
                        help="also run 10 M users (minutes; or BENCH_STORE_LARGE=1)")
    parser.add_argument("--work-dir", type=Path, help="keep data here (default: a temp dir, removed)")
    parser.add_argument("--keep", action="store_true", help="keep --work-dir data for --reuse")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a data dir loaded by an earlier --keep run")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--no-lmdb", action="store_true", help="time SQLite only (no LMDB copy)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    users = list(dict.fromkeys([*args.users, *([LARGE] if args.large else [])]))
    result = run(users, work_dir=args.work_dir, keep=args.keep or args.work_dir is not None, reuse=args.reuse,
                 memory=not args.no_memory, lmdb=not args.no_lmdb)
    print(table(result))
    for name, v in result["targets"].items():
        state = "not measured" if v["met"] is None else "MET" if v["met"] else "MISSED"
        print(f"{name}: {v['value']} (target {v['target']}) {state}")
    print(f"headline: {orjson.dumps(result['headline']).decode()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
