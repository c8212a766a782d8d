"""Soak (issue #9): minutes at 80 % of the measured max rate; errors and every worker's RSS over time.

The run is a sequence of back-to-back open-loop windows (default 10 s each) of the /rtd mix;
after each window the RSS (and USS) of every worker is sampled from /proc. Memory is *flat* when
each worker's RSS at the end is within 5 % of its RSS after the first window (the warm-up:
caches fill, code pages fault in). Target: 0 errors, RSS growth < 5 %.

    python -m loadtest.soak --rate 2000 [--minutes 10] [--workers 2] [--window 10] [--json out.json]
    python -m loadtest.soak --from-results loadtest/results/latest.json      # 80 % of the last max

Every run is bounded: ``minutes`` × rate requests at most.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from loadtest import generator, report, servers, stack, traffic

GROWTH_LIMIT = 0.05


def soak(sut: stack.Stack, *, rate: float, seconds: float, workers: int, window: float = 10.0,
         log_dir: Path | None = None, count: int = 2000) -> dict[str, Any]:
    mix = traffic.build(sut.plan, count=count, endpoint="rtd", bearer=sut.bearer,
                        uid2_document=sut.uid2_document)
    samples: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    with stack.start(sut, workers, log_dir=log_dir) as ours, generator.GeneratorProcess() as gen:
        pids = ours.worker_pids()
        started = time.monotonic()
        samples.append(_sample(pids, 0.0))
        while (elapsed := time.monotonic() - started) < seconds:
            length = min(window, seconds - elapsed)
            if length < 0.5:
                break
            step = gen.run(mix, rate=rate, seconds=length, port=ours.port,
                           max_requests=int(rate * length) + 1)
            step.pop("by_label", None)
            step["t"] = round(time.monotonic() - started, 1)
            windows.append(step)
            samples.append(_sample(pids, step["t"]))
            print(f"[soak] t={step['t']:6.1f}s achieved {step['achieved_rate']:7.0f}/s p99 "
                  f"{step['latency_ms']['p99']:7.3f} ms errors {step['error_count']} rss "
                  + " ".join(f"{m['rss'] / 2**20:.1f}" for m in samples[-1]["workers"].values()) + " MB",
                  file=sys.stderr, flush=True)
        alive = ours.proc.poll() is None
    return summarize(rate, workers, windows, samples, alive)


def _sample(pids: list[int], t: float) -> dict[str, Any]:
    return {"t": t, "workers": {str(pid): servers.memory(pid) for pid in pids}}


def summarize(rate: float, workers: int, windows: list[dict[str, Any]], samples: list[dict[str, Any]],
              alive: bool) -> dict[str, Any]:
    errors: dict[str, int] = {}
    for w in windows:
        for kind, n in w["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    growth: dict[str, float] = {}
    if len(samples) >= 3:  # baseline: after the first window (warm), end: the last sample
        base, last = samples[1]["workers"], samples[-1]["workers"]
        for pid, mem in base.items():
            if pid in last and mem.get("rss"):
                growth[pid] = round(last[pid]["rss"] / mem["rss"] - 1.0, 4)
    worst = max(growth.values(), default=None)
    total_errors = sum(errors.values())
    return {
        "rate": rate, "workers": workers, "seconds": sum(w["seconds"] for w in windows),
        "requests": sum(w["sent"] for w in windows), "errors": errors, "error_count": total_errors,
        "p99_ms_by_window": [w["latency_ms"]["p99"] for w in windows],
        "achieved_by_window": [w["achieved_rate"] for w in windows],
        "rss_mb": [{"t": s["t"],
                    **{pid: round(m.get("rss", 0) / 2**20, 1) for pid, m in s["workers"].items()}}
                   for s in samples],
        "uss_mb": [{"t": s["t"],
                    **{pid: round(m.get("uss", 0) / 2**20, 1) for pid, m in s["workers"].items()}}
                   for s in samples],
        "rss_growth": growth, "worst_rss_growth": worst, "server_alive": alive,
        "targets": {
            "errors": {"value": total_errors, "target": "0", "met": total_errors == 0 and alive},
            "rss_growth": {"value": worst, "target": f"< {GROWTH_LIMIT:.0%}",
                           "met": None if worst is None else worst < GROWTH_LIMIT},
        },
    }


def rate_from_results(path: Path, workers: int) -> float:
    """80 % of our /rtd max at ``workers`` from a bench_all/bench_http JSON result."""
    data = orjson.loads(path.read_bytes())
    runs = data.get("http", data).get("runs", [])
    for run in runs:
        if run["endpoint"] == "rtd" and run["workers"] == workers and run["targets"]["ours"]["max_rate"]:
            return 0.8 * float(run["targets"]["ours"]["max_rate"])
    raise SystemExit(f"no /rtd max rate for {workers} worker(s) in {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, help="offered requests/s (default: 80 %% of --from-results)")
    parser.add_argument("--from-results", type=Path, default=report.RESULTS / "latest.json")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rate = args.rate or rate_from_results(args.from_results, args.workers)
    with contextlib.ExitStack() as exits:
        work = args.work_dir or Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        sut = exits.enter_context(stack.prepare(work, args.users))
        result = soak(sut, rate=rate, seconds=args.minutes * 60, workers=args.workers, window=args.window,
                      log_dir=work / "logs")
    result["machine"] = report.machine()
    for name, v in result["targets"].items():
        print(f"soak {name}: {v['value']} (target {v['target']}) {'MET' if v['met'] else 'MISSED'}")
    if args.json:
        report.write_json(args.json, result)


if __name__ == "__main__":
    main()
