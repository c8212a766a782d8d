"""``make bench``: every benchmark that exists, one summary table, ``loadtest/results/latest.{json,md,png}``.

1. HTTP (:mod:`loadtest.bench_http`): /rtd and /segments, ours and bare on uvicorn and granian, one
   worker on a pinned core (``--workers 1 2`` adds 2 workers), with instruction counts per request
   (:mod:`loadtest.bench_icount`, callgrind; skipped with ``--quick`` or without valgrind) beside;
2. soak (:mod:`loadtest.soak`): a short one by default (``--soak-seconds``; 600 = the full 10 min)
   at 80 % of our 2-worker /rtd max;
3. store (:mod:`loadtest.bench_store`): 1 M users (``--large`` / ``BENCH_STORE_LARGE=1`` adds 10 M);
4. every other ``loadtest/bench_*.py`` (UID2, auth, privacy, mirror, metrics, … — written by the
   teams that own those features) as a subprocess with ``--json PATH``; its JSON is included as is.

    python -m loadtest.bench_all [--quick] [--skip http soak store others] [--results-dir DIR]

``--quick`` is the smoke-test size (a tiny store, short steps): it proves the harness end to end
and its numbers mean nothing.

``latest.json`` starts with the headline issue 21 asks for — ``rtd_vs_bare`` and
``segments_vs_bare`` (ours on the adopted ``[server] engine`` over bare Starlette on uvicorn, one
pinned core, max req/s), ``store_p99_us`` (the store benchmark's batched-lookup p99) and
``commit`` — and keeps every detail under ``http``, ``icount``, ``soak``, ``store``, ``others``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from loadtest import bench_http, bench_icount, bench_store, report, soak, stack

HERE = Path(__file__).resolve().parent
OWN = {"bench_all.py", "bench_http.py", "bench_store.py", "bench_icount.py"}  # run here, not as "others"


def other_benchmarks() -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py") if p.name not in OWN)


def run_other(path: Path, out_dir: Path, timeout: float) -> dict[str, Any]:
    """One team's benchmark as a subprocess; its ``--json`` output, or why there is none."""
    json_path = out_dir / f"{path.stem}.json"
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path), "--json", str(json_path)], cwd=HERE.parent,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": timeout}
    out: dict[str, Any] = {"status": "ok" if proc.returncode == 0 else f"exit {proc.returncode}",
                           "seconds": round(time.perf_counter() - started, 1),
                           "stdout_tail": proc.stdout.strip().splitlines()[-12:]}
    if proc.returncode != 0:
        out["stderr_tail"] = proc.stderr.strip().splitlines()[-12:]
    if json_path.exists():
        try:
            out["result"] = orjson.loads(json_path.read_bytes())
        except orjson.JSONDecodeError:
            out["status"] = "bad json"
    return out


def headline(value: Any, prefix: str = "", limit: int = 4) -> list[tuple[str, Any]]:
    """A few ratio-like numbers from another team's JSON, for the one summary table."""
    found: list[tuple[str, Any]] = []

    def walk(node: Any, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, child in enumerate(node[:8]):
                walk(child, f"{path}[{i}]")
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            last = path.rsplit(".", 1)[-1].lower()
            if any(word in last for word in ("ratio", "speedup", "x_faster", "times")):
                found.append((path, node))

    walk(value, prefix)
    return found


def summary(result: dict[str, Any]) -> list[list[Any]]:
    """Rows: area | measurement | value | target | status."""
    rows: list[list[Any]] = []

    def status(met: bool | None) -> str:
        return "not measured" if met is None else "met" if met else "MISSED"

    http = result.get("http")
    if http:
        adopted = http["config"]["adopted_engine"]
        for r in http["runs"]:
            name = f"/{r['endpoint']} {r['workers']}w"
            for target, rel in r["ratios"].items():
                half = r["half_load"][target]
                rows.append(["http", f"{name} {target}: max req/s (vs bare·uvicorn, vs bare·same engine)",
                             r["targets"][target]["max_rate"],
                             f"{rel['vs_bare_uvicorn']} / {rel['vs_bare_same_engine']}; p99 at half "
                             f"{half['latency_ms']['p99']} ms; {half['server_cpu_us_per_request']} µs CPU",
                             ""])
        for key, v in http["targets"].items():
            rows.append([f"target #21 ({adopted})", key, v["value"], v["target"],
                         "" if v["target"] == "reported" else status(v["met"])])
        decision = http.get("engine_decision", {})
        if decision:
            rows.append(["http", "[server] engine this run recommends (adopted: "
                         f"{decision['adopted']})", decision["recommended"],
                         f"ours granian/uvicorn max {decision.get('max_rate_granian_over_uvicorn')}, CPU/req "
                         f"{decision.get('cpu_per_request_granian_over_uvicorn')}",
                         "" if decision["recommended"] == decision["adopted"] else "CHANGE DEFAULT?"])
        ceiling = http.get("generator_ceiling")
        if ceiling:
            rows.append(["http", "generator ceiling (null server, /rtd mix)", ceiling["max_rate"], "req/s",
                         ""])
    icount = result.get("icount")
    if icount and "results" in icount:
        for r in icount["results"]:
            per = r["instructions_per_request"]
            rows.append(["icount", f"/{r['endpoint']} instructions per request ours / bare (in-process)",
                         r["ratio"], f"{per['ours']:,} / {per['bare']:,}", ""])
        for r in icount.get("server", {}).get("results", []):
            per = r["instructions_per_request"]
            rows.append(["icount", f"/{r['endpoint']} instructions per request ours / bare (whole uvicorn "
                         "server process)", r["ratio"], f"{per['ours']:,} / {per['bare']:,}", ""])
    elif icount:
        rows.append(["icount", "instructions per request", None, icount.get("skipped", ""), "not measured"])
    soaked = result.get("soak")
    if soaked:
        rows.append(["soak",
                     f"{soaked['seconds']:.0f} s at {soaked['rate']:.0f}/s, {soaked['workers']} workers",
                     soaked["requests"], "requests", ""])
        for key, v in soaked["targets"].items():
            rows.append(["target #9", f"soak {key}", v["value"], v["target"], status(v["met"])])
    store = result.get("store")
    if store:
        for s in store["sizes"]:
            lk = s["lookup"]
            rows.append(["store", f"{s['users']:,} users: load s / lookup p50, p99 µs",
                         s["prepare"]["load_seconds"], f"{lk['p50_us']} / {lk['p99_us']} µs", ""])
        for key, v in store["targets"].items():
            rows.append(["target #3", key, v["value"], f"<= {v['target']}", status(v["met"])])
    for name, other in result.get("others", {}).items():
        lines = headline(other.get("result"))
        if not lines:
            rows.append([name, "(see latest.json)", other["status"], f"{other['seconds']} s", ""])
        for path, value in lines:
            rows.append([name, path, value, "", other["status"]])
    return rows


HEADER = ["area", "measurement", "value", "detail / target", "status"]


def markdown(result: dict[str, Any], png: Path | None) -> str:
    m = result["machine"]
    parts = [
        "# Benchmark results (latest run)",
        "",
        (f"Machine: {m['nproc']} CPUs, {m['cpu_model'] or 'unknown CPU'}, {m['memory_gib']} GiB, "
         f"Python {m['python']}, "
        f"commit {m['git_commit']}; load average at start {' '.join(m['loadavg_at_start'])}. "
        f"Run took {result['seconds']:.0f} s. Ratios are the numbers to read: absolute rates drift with "
         "the machine."),
        "",
        report.md_table(HEADER, summary(result)),
    ]
    http = result.get("http")
    if http:
        table = report.md_table(bench_http.SUMMARY_HEADER,
                                bench_http.summary_rows(http, result.get("icount")))
        parts += ["", "## HTTP detail", "", table, "",
                  f"Adopted engine (`[server] engine` default): {http['config']['adopted_engine']}; "
                  f"servers pinned to one core: {http['config']['pinned']}. Instructions per request are "
                  "the app alone, in-process under callgrind (no server, no kernel): the same for both "
                  "engines.",
                  "", f"Features detected: `{orjson.dumps(http.get('features', {})).decode()}`"]
    if png is not None:
        parts += ["", f"![latency vs offered load]({png.name})"]
    store = result.get("store")
    if store:
        parts += ["", "## Store detail", "", bench_store.table(store)]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (numbers meaningless)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["http", "icount", "soak", "store", "others"])
    parser.add_argument("--results-dir", type=Path,
                        help=f"default {report.RESULTS}; with --quick a temporary directory (its numbers "
                             "mean nothing and must not replace the committed results)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--engines", nargs="+", default=list(bench_http.ENGINES),
                        choices=list(bench_http.ENGINES))
    parser.add_argument("--users", type=int, default=100_000, help="demo users for the HTTP runs")
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--store-users", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--large", action="store_true", default=os.environ.get("BENCH_STORE_LARGE") == "1")
    parser.add_argument("--store-work-dir", type=Path,
                        help="keep store data here and reuse sizes loaded by an earlier run "
                             "(load time flagged)")
    parser.add_argument("--others-timeout", type=float, default=600.0)
    parser.add_argument("--no-pin", action="store_true",
                        help="don't pin 1-worker servers and the generator to CPUs")
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.users, args.step_seconds = [1], 300, 0.3
        args.soak_seconds, args.store_users, args.large = 1.0, [300], False
    started = time.time()
    result: dict[str, Any] = {"machine": report.machine(), "quick": args.quick}
    out_dir = args.results_dir or report.RESULTS
    if args.quick and args.results_dir is None:
        out_dir = Path(tempfile.mkdtemp(prefix="bench-quick-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "latest.png"
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        work = Path(tmp)
        if "http" not in args.skip:
            result["http"] = bench_http.run(workers=args.workers, endpoints=["rtd", "segments"],
                                            users=args.users,
                                            step_seconds=args.step_seconds, warmup=0.1 if args.quick else 0.5,
                                            start_rate=200.0 if args.quick else 800.0, pin=not args.no_pin,
                                            work=work / "http", half_seconds=0.3 if args.quick else 6.0,
                                            ceiling=not args.quick, max_steps=1 if args.quick else 12,
                                            count=200 if args.quick else 2000, engines=tuple(args.engines))
            report.latency_chart(result["http"]["runs"], png)
        if "icount" not in args.skip and not args.quick:
            print("[bench_all] instruction counts (callgrind)", file=sys.stderr, flush=True)
            result["icount"] = bench_icount.run(["rtd", "segments"], requests=500, rounds=2, users=args.users)
        if "soak" not in args.skip:
            workers = 1 if args.quick else 2
            rate = 100.0 if args.quick else _soak_rate(result, workers)
            with stack.prepare(work / "http", args.users) as sut:
                result["soak"] = soak.soak(sut, rate=rate, seconds=args.soak_seconds, workers=workers,
                                           window=0.5 if args.quick else 10.0, log_dir=work / "soak-logs",
                                           count=200 if args.quick else 2000)
        if "store" not in args.skip:
            users = list(dict.fromkeys([*args.store_users, *([bench_store.LARGE] if args.large else [])]))
            result["store"] = bench_store.run(users, memory=not args.quick,
                                              batches=500 if args.quick else 20_000,
                                              work_dir=args.store_work_dir,
                                              keep=args.store_work_dir is not None,
                                              reuse=args.store_work_dir is not None)
        if "others" not in args.skip and not args.quick:
            result["others"] = {}
            for path in other_benchmarks():
                print(f"[bench_all] {path.name}", file=sys.stderr, flush=True)
                result["others"][path.stem] = run_other(path, work, args.others_timeout)
    result["seconds"] = round(time.time() - started, 1)
    report.write_json(out_dir / "latest.json", {**headline_keys(result), **result})
    text = markdown(result, png if png.exists() else None)
    (out_dir / "latest.md").write_text(text)
    print(report.md_table(HEADER, summary(result)))
    chart = f", {png}" if png.exists() else ""
    print(f"\nwrote {out_dir / 'latest.json'}, {out_dir / 'latest.md'}{chart}")


def headline_keys(result: dict[str, Any]) -> dict[str, Any]:
    """The four keys issue 21 reads first in ``latest.json`` (``None`` where a part was skipped)."""
    ratios = bench_http.headline(result["http"]) if result.get("http") else {}
    store = (result.get("store") or {}).get("targets", {}).get("lookup_p99_us", {})
    return {"rtd_vs_bare": ratios.get("rtd_vs_bare"), "segments_vs_bare": ratios.get("segments_vs_bare"),
            "store_p99_us": store.get("value"), "commit": result["machine"]["git_commit"]}


def _soak_rate(result: dict[str, Any], workers: int) -> float:
    http = result.get("http") or {}
    ours = f"ours·{http.get('config', {}).get('adopted_engine', 'uvicorn')}"
    measured = [(run["workers"], float(run["targets"][ours]["max_rate"])) for run in http.get("runs", [])
                if run["endpoint"] == "rtd" and run["targets"].get(ours, {}).get("max_rate")]
    if not measured:
        return 500.0
    return 0.8 * min(measured, key=lambda m: m[0] != workers)[1]  # this worker count's max, else any


if __name__ == "__main__":
    main()
