"""The Prometheus metrics every part of the server reports into (names are the ops contract).

Works in one process and, when ``PROMETHEUS_MULTIPROC_DIR`` is set *before* this module is first
imported (the ``serve`` command does that), across several uvicorn workers: prometheus-client
then backs each value with an mmap'd file per process and ``/metrics`` merges them.
Hot-path code should not call these per request: ``.labels()`` plus ``.inc()`` costs 2–5 µs in
multiprocess mode, and ``/rtd`` records one lookup per key. It counts into the tallies of
:mod:`server.observability.hotpath` instead (a dict increment), flushed here once a second.
Background and cold-path code uses the metrics directly.

Gauges use ``live*`` multiprocess modes: a worker's files are removed at its shutdown
(``mark_process_dead``), so a dead worker's stale value never wins the merge. They are sampled
once a second by :mod:`server.observability.runtime` from the live objects.
"""

from __future__ import annotations

import os

# prometheus-client picks its multiprocess backend when the first metric is created, and fails if
# the directory is missing; any CLI command may import this module before `serve` prepares it.
if _multiproc_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(_multiproc_dir, exist_ok=True)

from prometheus_client import Counter, Gauge, Histogram

# 100 µs – 5 ms in fine steps: Index's RTD budget is a few ms end to end.
LATENCY_BUCKETS = (
    0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.05, 0.25,
)
SEGMENT_COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)

REQUESTS = Counter("segserver_requests_total", "HTTP requests by endpoint and status", ["endpoint", "status"])
LATENCY = Histogram(
    "segserver_request_duration_seconds", "Server-side handling time", ["endpoint"], buckets=LATENCY_BUCKETS
)
SEGMENTS_RETURNED = Histogram(
    "segserver_segments_returned", "Segments per response", ["endpoint"], buckets=SEGMENT_COUNT_BUCKETS
)
RESPONSES_CAPPED = Counter(
    "segserver_responses_capped_total", "Responses cut to the 500-segment cap", ["endpoint"]
)
KEYS_FOUND = Counter("segserver_keys_found_total", "Usable lookup keys found in requests", ["kind"])
LOOKUPS = Counter("segserver_lookups_total", "Key lookups by kind and result", ["kind", "result"])
PRIVACY_DECISIONS = Counter(
    "segserver_privacy_decisions_total", "Privacy gate decisions by reason", ["reason"]
)
INVALID_FIELDS = Counter(
    "segserver_invalid_fields_total", "Request fields skipped for a wrong type", ["endpoint"]
)

UID2_DECRYPT = Counter(
    "segserver_uid2_decrypt_total", "UID2/EUID token decryptions by status and version",
    ["scope", "status", "version"],
)
UID2_KEYS = Gauge(
    "segserver_uid2_keys", "Keys in the current UID2 key set", ["scope"], multiprocess_mode="livemax"
)
UID2_SINCE_REFRESH = Gauge(
    "segserver_uid2_seconds_since_refresh", "Seconds since the last good key refresh", ["scope"],
    multiprocess_mode="livemin",
)
UID2_TO_EXPIRY = Gauge(
    "segserver_uid2_seconds_to_newest_expiry", "Seconds until the newest key expires", ["scope"],
    multiprocess_mode="livemax",
)

STORE_VERSION = Gauge(
    "segserver_store_snapshot_version", "Store snapshot version serving", multiprocess_mode="livemax"
)
STORE_ROWS = Gauge(
    "segserver_store_rows", "Rows in the serving snapshot", ["table"], multiprocess_mode="livemax"
)
STORE_AGE = Gauge(
    "segserver_store_snapshot_age_seconds", "Age of the serving snapshot", multiprocess_mode="livemin"
)

MIRROR_OUTBOX_DEPTH = Gauge(
    "segserver_mirror_outbox_depth", "Intents waiting in the outbox", multiprocess_mode="livemax"
)
MIRROR_OLDEST_AGE = Gauge(
    "segserver_mirror_outbox_oldest_seconds", "Age of the oldest undelivered intent",
    multiprocess_mode="livemax",
)
MIRROR_ENQUEUED = Counter("segserver_mirror_enqueued_total", "Mirror intents accepted from /rtd", ["result"])
MIRROR_SENT = Counter("segserver_mirror_sent_total", "Users delivered to Xandr rt-segment")
MIRROR_RETRIED = Counter("segserver_mirror_retried_total", "Xandr requests retried", ["reason"])
MIRROR_DEAD = Counter("segserver_mirror_dead_lettered_total", "Mirror entities dead-lettered", ["reason"])
MIRROR_AUTHS = Counter("segserver_mirror_auths_total", "Xandr authentications", ["result"])
MIRROR_NOT_MIRRORABLE = Counter(
    "segserver_mirror_not_mirrorable_total", "Matched users without an id Xandr understands", ["kind"]
)

AUTH_FAILURES = Counter("segserver_auth_failures_total", "Refused credentials and tokens", ["reason"])

# --- uid2 identity (data-provider side: DII → raw UID2, rotation, opt-out) — owner: identity ---
IDENTITY_MAPPED = Counter(
    "segserver_identity_mapped_total", "DII mapping outcomes per API", ["api", "result"]
)  # result: mapped, optout, invalid identifier, unknown
IDENTITY_REKEYED = Counter("segserver_identity_rekeyed_total", "Users re-keyed to a new raw UID2", ["api"])
IDENTITY_OPTOUTS = Counter("segserver_identity_optouts_total", "Raw UID2s found opted out", ["source"])
IDENTITY_OPERATOR_ERRORS = Counter(
    "segserver_identity_operator_errors_total", "Failed identity operator calls", ["endpoint", "status"]
)
IDENTITY_JOB_RUNS = Counter("segserver_identity_job_runs_total", "Identity job runs", ["job", "result"])
IDENTITY_PENDING = Gauge(
    "segserver_identity_pending", "DII waiting for a first mapping", multiprocess_mode="max"
)

# --- serving (owner: serve): worker processes, set by server.observability.runtime ---
WORKERS_ALIVE = Gauge("segserver_workers_alive", "Worker processes serving (each live worker adds 1)",
                      multiprocess_mode="livesum")
WORKER_STARTS = Counter("segserver_worker_starts_total",
                        "Worker process starts; more than [server] workers means restarts")
WORKER_REQUESTS = Gauge("segserver_worker_requests", "HTTP requests this worker has answered (per pid)",
                        multiprocess_mode="liveall")
