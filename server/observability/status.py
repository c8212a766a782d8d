"""``GET /status`` (one HTML page, no build step) and ``GET /status.json`` (what it polls).

The JSON merges two sources: the Prometheus registry (request counts, latency buckets, privacy
and decrypt mixes — summed over every worker in multiprocess mode) and the live objects in
``request.app.state.services`` (store snapshot, UID2 key sets, mirror outbox), each read
defensively and shown as ``"configured": false`` when absent. Rates and windowed percentiles
are computed in the page from the difference between two polls, because consecutive polls may
be answered by different workers and only the merged counters are shared.

Access (:mod:`server.observability.access`): with ``status_local_only`` (the default) loopback
clients only, without a token; otherwise an admin-scope token for ``/status.json`` (the HTML
shell holds no data and asks for one).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterable
from importlib import resources
from typing import Any

import orjson
from prometheus_client import Metric
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.observability import hotpath, sources
from server.observability.access import services_of, status_refusal
from server.observability.metrics_dir import multiprocess_dir
from server.observability.metrics_endpoint import registry
from server.observability.redact import redact_text

Labels = dict[str, str]
_NO_STORE = {"cache-control": "no-store"}


_PAGE: bytes | None = None


def page_html() -> bytes:
    global _PAGE
    if _PAGE is None:
        _PAGE = resources.files("server").joinpath("static/status.html").read_bytes()
    return _PAGE


async def status_page(request: Request) -> Response:
    refused = status_refusal(request, data=False)
    if refused is not None:
        return refused
    return HTMLResponse(page_html(), headers=_NO_STORE)


async def status_json(request: Request) -> Response:
    refused = status_refusal(request, data=True)
    if refused is not None:
        return refused
    hotpath.flush()
    families = await asyncio.to_thread(lambda: list(registry().collect()))
    services = services_of(request)
    doc = summarize(families)
    now = time.time()
    doc.update(ts=now, pid=os.getpid(), multiprocess=multiprocess_dir() is not None,
               store=store_state(services, now))
    doc["uid2"]["keysets"] = uid2_state(services, now)
    doc["uid2"]["configured"] = bool(doc["uid2"]["keysets"]) or getattr(services, "decryptor",
                                                                        None) is not None
    doc["mirror"].update(await mirror_state(services))
    return Response(orjson.dumps(doc, default=str), media_type="application/json", headers=_NO_STORE)


# -- the registry --------------------------------------------------------------------------------
def _samples(families: Iterable[Metric]) -> dict[str, list[tuple[Labels, float]]]:
    out: dict[str, list[tuple[Labels, float]]] = {}
    for family in families:
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _by(samples: list[tuple[Labels, float]], label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, value in samples:
        key = labels.get(label, "")
        out[key] = out.get(key, 0.0) + value
    return out


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """``histogram_quantile`` over cumulative ``(upper_bound, count)`` pairs, sorted by bound.

    Linear interpolation inside the bucket, as Prometheus does; the +Inf bucket answers its
    lower bound. ``None`` without observations.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _histogram(samples: dict[str, list[tuple[Labels, float]]], name: str, endpoint: str) -> dict[str, Any]:
    per_bound: dict[float, float] = {}
    for labels, value in samples.get(name + "_bucket", []):
        if labels.get("endpoint") == endpoint:
            bound = float(labels["le"])
            per_bound[bound] = per_bound.get(bound, 0.0) + value
    buckets = sorted(per_bound.items())
    count = _by([s for s in samples.get(name + "_count", []) if s[0].get("endpoint") == endpoint], "endpoint")
    total = _by([s for s in samples.get(name + "_sum", []) if s[0].get("endpoint") == endpoint], "endpoint")
    return {
        "count": count.get(endpoint, 0.0),
        "sum": total.get(endpoint, 0.0),
        "buckets": [[b if not math.isinf(b) else "+Inf", c] for b, c in buckets],
        "p50": quantile(buckets, 0.50), "p90": quantile(buckets, 0.90), "p99": quantile(buckets, 0.99),
    }


def summarize(families: Iterable[Metric]) -> dict[str, Any]:
    """The counters and histograms the page shows, summed over workers, from one collection."""
    s = _samples(families)
    requests = s.get("segserver_requests_total", [])
    endpoints: dict[str, Any] = {}
    for endpoint in sorted({labels.get("endpoint", "") for labels, _ in requests} | {"rtd", "segments"}):
        mine = [(labels, v) for labels, v in requests if labels.get("endpoint") == endpoint]
        by_status = {k: int(v) for k, v in sorted(_by(mine, "status").items())}
        endpoints[endpoint] = {
            "requests": sum(by_status.values()),
            "by_status": by_status,
            "client_errors": sum(v for k, v in by_status.items() if k.startswith("4")),
            "server_errors": sum(v for k, v in by_status.items() if k.startswith("5")),
            "latency": _histogram(s, "segserver_request_duration_seconds", endpoint),
            "segments_returned": {k: v for k, v in _histogram(s, "segserver_segments_returned",
                                                              endpoint).items()
                                  if k in ("count", "sum")},
        }

    def counts(name: str, label: str) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(_by(s.get(name, []), label).items()) if v}

    return {
        "endpoints": endpoints,
        "privacy": counts("segserver_privacy_decisions_total", "reason"),
        "uid2": {"decrypt": counts("segserver_uid2_decrypt_total", "status")},
        "mirror": {
            "enqueued": counts("segserver_mirror_enqueued_total", "result"),
            "sent_total": int(sum(v for _, v in s.get("segserver_mirror_sent_total", []))),
            "retried": counts("segserver_mirror_retried_total", "reason"),
            "dead_lettered": counts("segserver_mirror_dead_lettered_total", "reason"),
            "auths": counts("segserver_mirror_auths_total", "result"),
        },
        "auth_failures": counts("segserver_auth_failures_total", "reason"),
    }


# -- live objects --------------------------------------------------------------------------------
def store_state(services: Any, now: float) -> dict[str, Any]:
    try:
        info = services.store.info
        return {"configured": True, "version": info.version, "members": info.members,
                "segments": info.segments, "age_seconds": round(max(0.0, now - info.created_at), 1)}
    except Exception as exc:  # noqa: BLE001 -- no snapshot published yet, or no store at all
        return {"configured": services is not None and getattr(services, "store", None) is not None,
                "error": type(exc).__name__}


def uid2_state(services: Any, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scope, refresher in sources.refreshers(services).items():
        try:
            st = refresher.ops_state(now)
        except Exception as exc:  # noqa: BLE001
            out[scope] = {"state": "error", "error": type(exc).__name__}
            continue
        last, expiry = st.get("last_refresh"), st.get("newest_expiry")
        out[scope] = {
            "state": st.get("state"),
            "count": st.get("count"),
            "seconds_since_refresh": None if last is None else round(now - float(last), 1),
            "seconds_to_newest_expiry": None if expiry is None else round(float(expiry) - now, 1),
            "refresh_count": st.get("refresh_count"),
            "failure_count": st.get("failure_count"),
            "consecutive_failures": st.get("consecutive_failures"),
            "last_error": None if st.get("last_error") is None else redact_text(str(st["last_error"])),
        }
    return out


async def mirror_state(services: Any) -> dict[str, Any]:
    box = sources.outbox(services)
    if box is None:
        return {"configured": getattr(services, "mirror", None) is not None, "outbox": None}
    try:
        st = await asyncio.to_thread(box.stats)
    except Exception as exc:  # noqa: BLE001
        return {"configured": True, "outbox": None, "error": type(exc).__name__}
    last_auth = getattr(st, "last_auth", None)
    return {"configured": True, "outbox": {
        "depth": st.depth,
        "oldest_age_seconds": None if st.oldest_age is None else round(st.oldest_age, 1),
        "dead_letters": dict(st.dead_letters),
        "sent_last_5min": st.sent_last_5min,
        "last_auth": None if last_auth is None else {"ts": last_auth[0], "result": last_auth[1]},
        "lease_holder": st.lease_holder,
    }}
