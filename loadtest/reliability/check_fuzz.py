"""Fuzz: hostile /rtd bodies, /segments queries, UID2 tokens and consent strings — 0 5xx, 0 hangs, flat RSS.

The server runs with UID2 on (the fake operator's key set, so mutated tokens reach decryption) and
auth on (a real bearer token, so requests reach the parsers). Requests come from
:mod:`loadtest.reliability.fuzz_inputs`, are sent once each over keep-alive connections, and every
status is kept by input kind. Worker RSS (``VmRSS``) is read after the first tenth (warm caches)
and at the end: growth beyond :data:`RSS_GROWTH_LIMIT_KB` fails the check.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from loadtest.reliability import client, fuzz_inputs, harness, operator
from loadtest.servers import ServerProcess

FULL, QUICK = 100_000, 3_000
RSS_GROWTH_LIMIT_KB = 32 * 1024
DEADLINE_S = 5.0
BUDGET_S = 360.0  # the full run stops sending after this long (the count reached so far is reported)


def run(quick: bool) -> harness.CheckResult:
    count = QUICK if quick else FULL
    with harness.workspace("fuzz") as ws:
        ws.load_demo()
        bearer = ws.bearer()
        op, document, uid2 = operator.start(ws.root / "operator")
        try:
            with ws.start({"uid2": uid2}) as server:
                return _fuzz(server, bearer, document, count)
        finally:
            op.stop()


def _fuzz(server: ServerProcess, bearer: str, document: dict[str, Any], count: int) -> harness.CheckResult:
    started = time.monotonic()
    corpus = fuzz_inputs.corpus(count, bearer, document)
    warm = list(islice(corpus, max(500, count // 10)))
    total = client.send_all(server.port, warm, deadline=DEADLINE_S)
    pid = server.worker_pids()[0]
    rss_before = harness.rss_kb(pid)
    chunk = 5_000
    while time.monotonic() - started < BUDGET_S:
        batch = list(islice(corpus, chunk))
        if not batch:
            break
        out = client.send_all(server.port, batch, deadline=DEADLINE_S)
        total.statuses.update(out.statuses)
        total.latencies.extend(out.latencies)
        total.stale_retries += out.stale_retries
        for key, raw in out.examples.items():
            total.examples.setdefault(key, raw)
    rss_after = harness.rss_kb(pid)
    alive = server.proc.poll() is None
    sent = total.total
    fivexx = total.where(lambda c: c >= 500)
    hangs = total.where(lambda c: c == client.HANG)
    closed = total.where(lambda c: c == client.CLOSED)
    growth = rss_after - rss_before
    passed = alive and not fivexx and not hangs and growth <= RSS_GROWTH_LIMIT_KB and sent >= count
    figure = (f"{sent:,} requests: {sum(fivexx.values())} 5xx, {sum(hangs.values())} hangs, "
              f"{sum(closed.values())} closed w/o answer; RSS {rss_before // 1024}->{rss_after // 1024} MiB "
              f"({growth / 1024:+.1f})")
    labels = sorted({label for label, _ in total.statuses})
    return harness.CheckResult(
        "fuzz", f"{len(labels)} kinds of hostile /rtd bodies, /segments queries, UID2 tokens, TCF/GPP/USP "
        f"strings (keep-alive, {DEADLINE_S:.0f} s deadline each)", figure, passed,
        {"sent": sent, "target": count, "by_status": total.by_status(), "fivexx": fivexx, "hangs": hangs,
         "closed_without_answer": closed, "rss_kb_before": rss_before, "rss_kb_after": rss_after,
         "server_alive": alive, "kinds": labels, "stale_keepalive_retries": total.stale_retries,
         "latency_ms": client.latency_summary(total),
         "examples": {f"{k[0]}:{k[1]}": v.decode("latin-1") for k, v in total.examples.items()},
         "by_kind": {f"{label}:{code}": n for (label, code), n in sorted(total.statuses.items())}})
