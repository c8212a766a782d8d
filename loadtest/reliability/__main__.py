"""``python -m loadtest.reliability [--quick] [--only NAME ...]``: run the checks, print the table.

Each check starts its own server process in its own temp dir. The table (check / what was tried /
figure / verdict) goes to stdout, the full results to ``loadtest/results/reliability.json``
(``reliability-quick.json`` with ``--quick``). Exit status 1 when any check fails; a skipped check
(e.g. Docker without a daemon) does not fail the run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import orjson

from loadtest.reliability import CHECKS
from loadtest.reliability.harness import CheckResult

RESULTS = Path(__file__).resolve().parents[1] / "results"


def run_one(name: str, check: Callable[[bool], CheckResult], quick: bool) -> CheckResult:
    started = time.monotonic()
    try:
        result = check(quick)
    except Exception as exc:  # noqa: BLE001 -- a check that crashes is a failed check, reported as such
        result = CheckResult(name, "(the check itself raised)", f"{type(exc).__name__}: {exc}"[:300], False,
                             {"traceback": traceback.format_exc()})
    result.seconds = round(time.monotonic() - started, 1)
    result.name = name  # the name --only takes
    return result


def table(results: list[CheckResult]) -> str:
    rows = [("check", "what was tried", "figure", "result")]
    rows += [(r.name, r.tried, r.figure, f"{r.verdict} ({r.seconds:.0f} s)") for r in results]
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(3)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) if len(row[i]) <= widths[i] else row[i] for i in range(3)]
        lines.append(" | ".join([*cells, row[3]]))
        if row is rows[0]:
            lines.append("-+-".join("-" * w for w in [*widths, 12]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke of every check (CI, under 60 s)")
    parser.add_argument("--only", nargs="*", choices=list(CHECKS), help="run only these checks")
    parser.add_argument("--known-failures", default="", metavar="A,B",
                        help="checks whose failure is a reported, open finding: shown as FAIL (known), "
                             "not counted in the exit status")
    parser.add_argument("--out", type=Path,
                        help="results file (default loadtest/results/reliability[-quick].json)")
    args = parser.parse_args(argv)
    names = args.only or list(CHECKS)
    results: list[CheckResult] = []
    for name in names:
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        result = run_one(name, CHECKS[name], args.quick)
        print(f"   {result.verdict}: {result.figure}", file=sys.stderr, flush=True)
        results.append(result)
    print(table(results))
    out = args.out or RESULTS / ("reliability-quick.json" if args.quick else "reliability.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"quick": args.quick, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"python": platform.python_version(), "cpus": _cpus()},
           "checks": [{"name": r.name, "tried": r.tried, "figure": r.figure, "result": r.verdict,
                       "seconds": r.seconds, "details": r.details} for r in results]}
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    known = {n.strip() for n in args.known_failures.split(",") if n.strip()}
    failed = [r.name for r in results if r.passed is False]
    fatal = [name for name in failed if name not in known]
    fixed = sorted((known - set(failed)) & {r.name for r in results})
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed or skipped"
          + (f"; FAILED: {', '.join(fatal)}" if fatal else "")
          + (f"; known failures: {', '.join(sorted(set(failed) & known))}" if set(failed) & known else "")
          + (f"; now passing, drop from --known-failures: {', '.join(fixed)}" if fixed else "")
          + f"; results in {out}")
    return 1 if fatal else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
