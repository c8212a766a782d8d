"""HTTP benchmark (issues #9, #21): ours and a bare Starlette app, on both engines, same run, as ratios.

Four targets per worker count, all running at once and stepped *alternately* (drift on a shared
machine hits every one of them):

=================  =================================================================
``bare·uvicorn``   :mod:`loadtest.bare_app` under uvicorn with our flags — **the baseline**
``bare·granian``   the same app under granian with our granian options
``ours·uvicorn``   ``segment-server serve`` with ``[server] engine = "uvicorn"``
``ours·granian``   ``segment-server serve`` with ``[server] engine = "granian"``
=================  =================================================================

For each endpoint (``/rtd``, ``/segments``):

1. **max-throughput search** — raise the offered rate (×1.5 steps, then bisection) until p99
   passes 5 ms, any error appears, or the achieved rate falls below 95 % of the offered one; the
   highest passing rate is the max. A failing step is re-run once before it counts;
2. **half load** — each target at 50 % of *its own* max for a longer step: the p99 a server
   shows when it is not saturated (target for ours ≤ 1 ms);
3. **ratios** — every max against ``bare·uvicorn`` and against the bare app on the same engine.

With one worker the servers are pinned to CPU 0 with ``taskset`` (every process of a server:
granian's supervisor and worker too) and the load generator to the last CPU (``--no-pin`` turns
it off). With 2 workers three processes share two cores, so those numbers are partly the
generator's. The generator's own ceiling is measured against :mod:`loadtest.null_server`.

    python -m loadtest.bench_http [--workers 1] [--endpoints rtd segments] [--engines uvicorn granian]
                                  [--step-seconds 3] [--users 100000] [--json out.json] [--png out.png]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtest import generator, report, servers, stack, traffic

Step = dict[str, Any]
Log = Callable[[str], None]

P99_BUDGET_MS = 5.0
MIN_ACHIEVED = 0.95
ENGINES = ("uvicorn", "granian")
BASELINE = "bare·uvicorn"
TARGETS = {"rtd_max_ratio_1w": 0.70, "rtd_p99_half_ms": 1.0, "segments_max_ratio_1w": 0.80}


def passed(step: Step) -> bool:
    return bool(step["error_count"] == 0 and step["latency_ms"]["p99"] <= P99_BUDGET_MS
                and step["achieved_rate"] >= MIN_ACHIEVED * step["offered_rate"])


class Search:
    """Geometric growth until the first failure, then bisection between last pass and first fail."""

    def __init__(self, start: float, growth: float = 1.5, precision: float = 1.08,
                 max_steps: int = 12) -> None:
        self.lo = 0.0
        self.hi: float | None = None
        self.next: float | None = start
        self.growth, self.precision, self.max_steps = growth, precision, max_steps
        self.steps: list[Step] = []

    def record(self, step: Step) -> None:
        step["passed"] = passed(step)
        self.steps.append(step)
        rate = step["offered_rate"]
        if step["passed"]:
            self.lo = max(self.lo, rate)
        else:
            self.hi = rate if self.hi is None else min(self.hi, rate)
        if len(self.steps) >= self.max_steps:
            self.next = None
        elif self.hi is None:
            self.next = rate * self.growth
        elif self.lo == 0.0:
            self.next = self.hi / 2 if self.hi > 50 else None
        elif self.hi / self.lo <= self.precision:
            self.next = None
        else:
            self.next = round((self.lo * self.hi) ** 0.5)


def cpu_sets(workers: int, pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, generator CPUs) — pinned only for 1 worker on ≥ 2 CPUs with taskset present."""
    ncpu = os.cpu_count() or 1
    if not pin or workers != 1 or ncpu < 2 or shutil.which("taskset") is None:
        return None, None
    return {0}, {ncpu - 1}


def run_step(gen: generator.GeneratorProcess, requests: list[generator.Prepared],
             server: servers.ServerProcess,
             rate: float, seconds: float, warmup: float, cpus: set[int] | None) -> Step:
    """One open-loop step, plus the server's CPU time per request (steadier than rates on a busy box)."""
    pids = server.all_pids()
    cpu = servers.cpu_seconds(pids)
    step = gen.run(requests, rate=rate, seconds=seconds, warmup=warmup, port=server.port, cpus=cpus,
                   max_requests=int(rate * (seconds + warmup)) + 1)
    handled = int(rate * (seconds + warmup))
    step["server_cpu_us_per_request"] = round((servers.cpu_seconds(pids) - cpu) / max(1, handled) * 1e6, 1)
    step["loadavg"] = report.loadavg()
    return step


def _describe(name: str, step: Step) -> str:
    return (f"  {name:13s} {step['offered_rate']:8.0f}/s → {step['achieved_rate']:8.0f}/s "
            f"p50 {step['latency_ms']['p50']:7.3f} p99 {step['latency_ms']['p99']:8.3f} ms "
            f"err {step['error_count']:4d} lag99 {step['dispatch_lag_ms']['p99']:.2f} ms "
            f"cpu/req {step['server_cpu_us_per_request']:.0f} µs {'ok' if step['passed'] else 'FAIL'}")


def search_max(gen: generator.GeneratorProcess, targets: dict[str, servers.ServerProcess],
               requests: list[generator.Prepared], *, start: float, seconds: float, warmup: float,
               gen_cpus: set[int] | None, max_steps: int = 12, log: Log | None = None) -> dict[str, Any]:
    searches = {name: Search(start, max_steps=max_steps) for name in targets}
    while any(s.next is not None for s in searches.values()):
        for name, server in targets.items():
            search = searches[name]
            if search.next is None:
                continue
            step = run_step(gen, requests, server, float(search.next), seconds, warmup, gen_cpus)
            if not passed(step):  # confirm a failure once: on a shared machine one step can be unlucky
                retry = run_step(gen, requests, server, float(search.next), seconds, warmup, gen_cpus)
                retry["retry_of_failed_step"] = True
                step = retry if passed(retry) else step
            search.record(step)
            if log:
                log(_describe(name, step))
    return {name: {"max_rate": s.lo, "steps": s.steps} for name, s in searches.items()}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_answers(port: int, requests: list[generator.Prepared], limit: int = 200) -> dict[str, Any]:
    """Send a sample synchronously and count statuses and non-empty answers (is the mix hitting?)."""
    statuses: dict[str, int] = {}
    non_empty = 0
    with socket.create_connection((servers.HOST, port), timeout=5) as sock:
        reader = sock.makefile("rb")
        for req in requests[:limit]:
            sock.sendall(req.raw)
            status_line = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = reader.read(length)
            code = status_line.split(b" ")[1].decode()
            statuses[code] = statuses.get(code, 0) + 1
            non_empty += b'"segment_ids":[]' not in body and code == "200"
    return {"sampled": sum(statuses.values()), "status": statuses, "non_empty_answers": non_empty}


def ratios(found: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Every target's max against the baseline and against the bare app on its own engine."""

    def ratio(name: str, denominator: str) -> float | None:
        den = found.get(denominator, {}).get("max_rate")
        return round(found[name]["max_rate"] / den, 3) if den else None

    return {name: {"vs_bare_uvicorn": ratio(name, BASELINE),
                   "vs_bare_same_engine": ratio(name, "bare·" + name.split("·")[1])} for name in found}


def start_targets(exits: contextlib.ExitStack, sut: stack.Stack, workers: int, engines: tuple[str, ...],
                  logs: Path, cpus: set[int] | None) -> dict[str, servers.ServerProcess]:
    """``bare·<engine>`` and ``ours·<engine>`` for each engine, stopped when ``exits`` closes."""
    targets: dict[str, servers.ServerProcess] = {}
    for engine in engines:
        targets[f"bare·{engine}"] = exits.enter_context(
            servers.start_bare(workers=workers, log_dir=logs, engine=engine, cpus=cpus))
        targets[f"ours·{engine}"] = exits.enter_context(
            stack.start(sut, workers, log_dir=logs, engine=engine, cpus=cpus))
    return targets


def measure_endpoint(gen: generator.GeneratorProcess, targets: dict[str, servers.ServerProcess],
                     mix: list[generator.Prepared], *, workers: int, endpoint: str, start_rate: float,
                     step_seconds: float, warmup: float, half_seconds: float, gen_cpus: set[int] | None,
                     max_steps: int) -> dict[str, Any]:
    """Max search, then each target at half of its own max; one result row set for the endpoint."""
    _log(f"[bench_http] {endpoint}, {workers} worker(s): max-throughput search")
    answers = {name: check_answers(s.port, mix) for name, s in targets.items()}
    found = search_max(gen, targets, mix, start=start_rate, seconds=step_seconds, warmup=warmup,
                       gen_cpus=gen_cpus, max_steps=max_steps, log=_log)
    half: dict[str, Step] = {}
    for name, server in targets.items():
        rate = max(found[name]["max_rate"] * 0.5, 50.0)
        _log(f"[bench_http] {endpoint}, {workers} worker(s): {name} at 50 % of its max ({rate:.0f}/s)")
        half[name] = run_step(gen, mix, server, rate, half_seconds, warmup, gen_cpus)
        half[name]["rate"] = rate
    return {"workers": workers, "endpoint": endpoint, "targets": found, "answers": answers, "half_load": half,
            "ratios": ratios(found)}


def run(*, workers: list[int], endpoints: list[str], users: int, step_seconds: float, warmup: float,
        start_rate: float, pin: bool, work: Path, half_seconds: float, ceiling: bool = True,
        max_steps: int = 12, count: int = 2000, engines: tuple[str, ...] = ENGINES) -> dict[str, Any]:
    started = time.time()
    adopted = servers.default_engine()
    out: dict[str, Any] = {"machine": report.machine(),
                           "config": {"workers": workers, "endpoints": endpoints, "users": users,
                                      "engines": list(engines), "adopted_engine": adopted,
                                      "step_seconds": step_seconds, "warmup_seconds": warmup,
                                      "pinned": cpu_sets(1, pin) != (None, None),
                                      "p99_budget_ms": P99_BUDGET_MS, "min_achieved": MIN_ACHIEVED,
                                      "distinct_requests": count, "connections": 64},
                           "runs": []}
    logs = work / "logs"
    with stack.prepare(work, users) as sut, generator.GeneratorProcess() as gen:
        out["features"] = sut.features
        mixes = {ep: traffic.build(sut.plan, count=count, endpoint=ep, bearer=sut.bearer,
                                   uid2_document=sut.uid2_document) for ep in endpoints}
        out["traffic"] = {ep: traffic.describe(m) for ep, m in mixes.items()}
        if ceiling:
            out["generator_ceiling"] = generator_ceiling(gen, mixes, logs, step_seconds, warmup, start_rate,
                                                         pin, max_steps)
        for n in workers:
            server_cpus, gen_cpus = cpu_sets(n, pin)
            with contextlib.ExitStack() as exits:
                targets = start_targets(exits, sut, n, engines, logs, server_cpus)
                for ep in endpoints:
                    out["runs"].append(measure_endpoint(
                        gen, targets, mixes[ep], workers=n, endpoint=ep, start_rate=start_rate,
                        step_seconds=step_seconds, warmup=warmup, half_seconds=half_seconds,
                        gen_cpus=gen_cpus,
                        max_steps=max_steps))
                out.setdefault("memory", {})[f"{n}w"] = {
                    name: {str(pid): servers.memory(pid) for pid in s.worker_pids()}
                    for name, s in targets.items()}
    out["targets"] = verdicts(out["runs"], adopted)
    out["engine_decision"] = engine_decision(out["runs"], adopted)
    out["seconds"] = round(time.time() - started, 1)
    return out


def generator_ceiling(gen: generator.GeneratorProcess, mixes: dict[str, list[generator.Prepared]], logs: Path,
                      step_seconds: float, warmup: float, start_rate: float, pin: bool,
                      max_steps: int) -> dict[str, Any]:
    """The generator against the null server: the most it can measure here (same pinning as 1 worker)."""
    server_cpus, gen_cpus = cpu_sets(1, pin)
    ep = "rtd" if "rtd" in mixes else next(iter(mixes))
    _log(f"[bench_http] generator ceiling: {ep} mix against the null server")
    with servers.start_null(log_dir=logs, cpus=server_cpus) as null:
        found = search_max(gen, {"null·uvloop": null}, mixes[ep], start=start_rate * 2, seconds=step_seconds,
                           warmup=warmup, gen_cpus=gen_cpus, max_steps=max_steps, log=_log)
    return {"endpoint": ep, "max_rate": found["null·uvloop"]["max_rate"],
            "steps": found["null·uvloop"]["steps"]}


def find_run(runs: list[dict[str, Any]], endpoint: str, workers: int = 1) -> dict[str, Any] | None:
    return next((r for r in runs if r["endpoint"] == endpoint and r["workers"] == workers), None)


def verdicts(runs: list[dict[str, Any]], adopted: str) -> dict[str, Any]:
    """Issue 21's targets for ours on the adopted engine, one worker, against ``bare·uvicorn``."""
    ours = f"ours·{adopted}"
    out: dict[str, Any] = {}
    for ep, key in (("rtd", "rtd_max_ratio_1w"), ("segments", "segments_max_ratio_1w")):
        found = find_run(runs, ep)
        if found is None or ours not in found["ratios"]:
            continue
        ratio = found["ratios"][ours]["vs_bare_uvicorn"]
        out[key] = {"value": ratio, "target": f">= {TARGETS[key]}",
                    "met": ratio is not None and ratio >= TARGETS[key]}
        same = found["ratios"][ours]["vs_bare_same_engine"]
        out[key.replace("_1w", f"_vs_bare_{adopted}_1w")] = {"value": same, "target": "reported", "met": None}
        p99 = found["half_load"][ours]["latency_ms"]["p99"]
        limit = TARGETS["rtd_p99_half_ms"]
        out[f"{ep}_p99_half_ms"] = {"value": p99, "target": f"<= {limit}", "met": p99 <= limit}
    return out


CLEAR_WIN = 1.10  # an engine "clearly wins" with ≥ 10 % more of our max req/s on both endpoints


def engine_decision(runs: list[dict[str, Any]], adopted: str) -> dict[str, Any]:
    """Which engine this run says ``[server] engine`` should default to (issue 21's rule).

    granian only where it clearly wins — ≥ :data:`CLEAR_WIN` × uvicorn's max for ours on /rtd and
    /segments, one worker — and it is no worse on CPU per request at half load; else uvicorn.
    """
    gains: dict[str, float | None] = {}
    cpu: dict[str, float | None] = {}
    for ep in ("rtd", "segments"):
        found = find_run(runs, ep)
        if found is None or not {"ours·uvicorn", "ours·granian"} <= set(found["targets"]):
            return {"recommended": adopted, "why": "not both engines measured", "adopted": adopted}
        u, g = (found["targets"][f"ours·{e}"]["max_rate"] for e in ENGINES)
        gains[ep] = round(g / u, 3) if u else None
        cu, cg = (found["half_load"][f"ours·{e}"]["server_cpu_us_per_request"] for e in ENGINES)
        cpu[ep] = round(cg / cu, 3) if cu else None
    wins = all(v is not None and v >= CLEAR_WIN for v in gains.values())
    cheaper = all(v is not None and v <= 1.0 for v in cpu.values())
    recommended = "granian" if wins and cheaper else "uvicorn"
    return {"recommended": recommended, "adopted": adopted, "max_rate_granian_over_uvicorn": gains,
            "cpu_per_request_granian_over_uvicorn": cpu,
            "why": f"granian clearly wins only with >= {CLEAR_WIN}x max req/s on both endpoints and no more "
                   "CPU per request at half load"}


def headline(http: dict[str, Any]) -> dict[str, float | None]:
    """``rtd_vs_bare`` / ``segments_vs_bare``: ours on the adopted engine over ``bare·uvicorn``, 1 worker."""
    ours = f"ours·{http['config']['adopted_engine']}"
    out: dict[str, float | None] = {}
    for ep in ("rtd", "segments"):
        found = find_run(http["runs"], ep)
        measured = found is not None and ours in found["ratios"]
        out[f"{ep}_vs_bare"] = found["ratios"][ours]["vs_bare_uvicorn"] if found and measured else None
    return out


SUMMARY_HEADER = ["endpoint", "workers", "server · app", "max req/s", "vs bare·uvicorn",
                  "vs bare, same engine",
                  "half-load /s", "p99 ms at half", "p99.9 ms at half", "errors", "CPU µs/req",
                  "instructions/req (app)"]


def summary_rows(result: dict[str, Any], icount: dict[str, Any] | None = None) -> list[list[Any]]:
    """One row per (endpoint, workers, target); instruction counts (in-process, no engine) beside."""
    per_app: dict[tuple[str, str], Any] = {}
    for r in (icount or {}).get("results", []):
        for app, n in r["instructions_per_request"].items():
            per_app[(r["endpoint"], app)] = n
    rows: list[list[Any]] = []
    for r in result["runs"]:
        for name, found in r["targets"].items():
            half, rel = r["half_load"][name], r["ratios"][name]
            rows.append([f"/{r['endpoint']}", r["workers"], name, found["max_rate"], rel["vs_bare_uvicorn"],
                         rel["vs_bare_same_engine"], round(half["rate"]), half["latency_ms"]["p99"],
                         half["latency_ms"]["p99_9"], half["error_count"], half["server_cpu_us_per_request"],
                         per_app.get((r["endpoint"], name.split("·")[0]))])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--endpoints", nargs="+", default=["rtd", "segments"], choices=["rtd", "segments"])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--users", type=int, default=100_000, help="demo users loaded for ours")
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--half-seconds", type=float, default=6.0)
    parser.add_argument("--start-rate", type=float, default=800.0)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--no-pin", action="store_true", help="don't pin a 1-worker server and the generator")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the generator-ceiling search")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as exit_stack:
        temporary = tempfile.TemporaryDirectory(prefix="bench-http-")
        work = args.work_dir or Path(exit_stack.enter_context(temporary))
        result = run(workers=args.workers, endpoints=args.endpoints, users=args.users,
                     step_seconds=args.step_seconds, warmup=args.warmup, start_rate=args.start_rate,
                     pin=not args.no_pin, work=work, half_seconds=args.half_seconds,
                     ceiling=not args.no_ceiling, max_steps=args.max_steps, engines=tuple(args.engines))
    print(report.md_table(SUMMARY_HEADER, summary_rows(result)))
    if "generator_ceiling" in result:
        print(f"generator ceiling (null server, {result['generator_ceiling']['endpoint']} mix): "
              f"{result['generator_ceiling']['max_rate']:.0f}/s")
    for name, v in result["targets"].items():
        print(f"{name}: {v['value']} (target {v['target']}) "
              f"{'reported' if v['met'] is None else 'MET' if v['met'] else 'MISSED'}")
    print(f"engine: {result['engine_decision']}")
    if args.json:
        report.write_json(args.json, result)
    if args.png:
        report.latency_chart(result["runs"], args.png)


if __name__ == "__main__":
    main()
