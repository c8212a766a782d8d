"""``/metrics`` read back as numbers, for the tests that check exact counter deltas on a real server.

One reading for the metrics tests and the end-to-end tests: samples keyed by name and sorted
labels, and sums over a label subset (a counter is split by labels the test does not care about).
"""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str, **kwargs: Any) -> Samples:
    """Every sample ``base/metrics`` exposes now; ``kwargs`` go to ``httpx.get`` (headers, ...)."""
    response = httpx.get(base + "/metrics", timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))
