"""Metrics of the gRPC endpoint, and the store-trouble counter the shared chain reports.

Counted per request through :mod:`server.observability.hotpath` tallies (a dict increment),
flushed into these once a second with every other hot-path tally.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from server.metrics import LATENCY_BUCKETS

GRPC_REQUESTS = Counter(
    "segserver_grpc_requests_total", "gRPC calls by method and status code", ["method", "code"]
)
GRPC_LATENCY = Histogram(
    "segserver_grpc_request_duration_seconds", "Server-side handling time of gRPC calls", ["method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_SKIPS = Counter(
    "segserver_grpc_skipped_total",
    "Calls answered with no mutations without a lookup, by reason: deadline or tmax too close, "
    "none of our intents applicable, a lifecycle stage we do not act at", ["reason"],
)
STORE_ERRORS = Counter(
    "segserver_store_errors_total", "Requests answered as a miss because the store failed", ["endpoint"]
)
