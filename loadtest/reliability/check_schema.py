"""schemathesis against the served ``/openapi.json``: every operation, with an all-scope bearer token.

Pass: no server error (ST101/ST102) and no response that breaks the schema (the other ``ST1xx``:
undocumented status codes, content types, headers, bodies that fail the response schema).
Everything else schemathesis finds (``ST2xx`` request-acceptance mismatches, ``ST4xx`` auth
findings) is reported with its operations, as findings about the schema, without failing the check.

The stateful phase follows the schema's links, so ``GET /admin/identities`` would hand it the id
of the identity our token belongs to and a ``DELETE .../tokens`` would revoke the token mid-run.
The two deleting identity operations therefore run in a second pass without the stateful phase
(random ids: they reach the handler, they cannot hit ours).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson

from loadtest import servers
from loadtest.reliability import harness

REVOKING = r"^DELETE /admin/identities/\{identity_id\}"
SERVER_ERRORS = ("ST101", "ST102")
RESULTS = Path(__file__).resolve().parents[1] / "results"
TOKEN = re.compile(rb"(ss1_)[A-Za-z0-9_-]{20,}")


def _schemathesis(base_url: str, bearer: str, report: Path, *, max_time: int, examples: int,
                  extra: list[str], quick: bool) -> dict[str, Any]:
    argv = [str(servers.VENV_BIN / "schemathesis"), "run", f"{base_url}/openapi.json",
            "-H", f"Authorization: Bearer {bearer}", "--checks", "all", "-n", str(examples),
            "--max-time", str(max_time), "--no-color", "--seed", "22", "--generation-database", "none",
            "--workers", "2", "--report", "json", "--report-json-path", str(report), *extra]
    proc = subprocess.run(argv, cwd=report.parent, capture_output=True, timeout=max_time + 120, check=False)
    RESULTS.mkdir(parents=True, exist_ok=True)  # the failures with their curl reproductions
    text = TOKEN.sub(rb"\1[redacted]", proc.stdout + proc.stderr)  # tokens the run issued, in answers
    (RESULTS / f"reliability-schemathesis-{report.stem}{'-quick' if quick else ''}.txt").write_bytes(text)
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr).decode(errors='replace')[-800:]}")
    doc: dict[str, Any] = orjson.loads(report.read_bytes())
    return doc


def run(quick: bool) -> harness.CheckResult:
    max_time, examples = (6, 3) if quick else (120, 60)
    with harness.workspace("schema") as ws:
        ws.load_demo()
        bearer = ws.bearer()
        with ws.start() as server:
            started = time.monotonic()
            main = _schemathesis(server.base_url, bearer, ws.root / "main.json", max_time=max_time,
                                 examples=examples, extra=["--exclude-name-regex", REVOKING], quick=quick)
            revoking = _schemathesis(server.base_url, bearer, ws.root / "revoking.json",
                                     max_time=max(3, max_time // 5), examples=examples,
                                     extra=["--include-name-regex", REVOKING, "--phases",
                                            "examples,coverage,fuzzing"], quick=quick)
            alive = server.proc.poll() is None
            seconds = time.monotonic() - started
            return _result(main, revoking, alive, seconds)


def _result(main: dict[str, Any], revoking: dict[str, Any], alive: bool,
            seconds: float) -> harness.CheckResult:
    failures = [*main.get("failures", []), *revoking.get("failures", [])]
    by_code: dict[str, dict[str, Any]] = {}
    for f in failures:
        entry = by_code.setdefault(f["code"], {"title": f["title"], "count": 0, "operations": []})
        entry["count"] += f["count"]
        entry["operations"] = sorted({*entry["operations"], *f["operations"]})
    server_errors = {c: v for c, v in by_code.items() if c in SERVER_ERRORS}
    schema = {c: v for c, v in by_code.items() if c.startswith("ST1") and c not in SERVER_ERRORS}
    other = {c: v for c, v in by_code.items() if c not in server_errors and c not in schema}
    operations = main["operations"]["tested"] + revoking["operations"]["tested"]
    total_ops = main["operations"]["total"]
    cases = main["test_cases"]["generated"] + revoking["test_cases"]["generated"]
    errors = [*main.get("errors", []), *revoking.get("errors", [])]
    passed = alive and not server_errors and not schema and operations >= total_ops
    others = ", ".join(f"{c} x{v['count']}" for c, v in other.items()) or "none"
    figure = (f"{cases:,} cases on {operations}/{total_ops} operations: "
              f"{sum(v['count'] for v in server_errors.values())} server errors, "
              f"{sum(v['count'] for v in schema.values())} schema violations "
              f"({', '.join(schema) or 'none'}); other findings: {others}")
    return harness.CheckResult(
        "schemathesis", "st run --checks all on /openapi.json, every operation, bearer with all scopes "
        "(coverage, fuzzing, stateful phases)", figure, passed,
        {"server_errors": server_errors, "schema_violations": schema, "other_findings": other,
         "test_cases": cases, "operations_tested": operations, "operations_total": total_ops,
         "warnings": {k: v for k, v in main.get("warnings", {}).items() if v},
         "errors": errors, "server_alive": alive, "seconds": round(seconds, 1),
         "revoking_operations_pass": revoking["operations"]})
