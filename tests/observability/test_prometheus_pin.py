"""The prometheus-client internals we rely on, pinned: an upgrade that changes them fails here, loudly.

Two places read past prometheus-client's public API, each for a measured reason:

* :class:`server.observability.hotpath.LocalHistogram` adds a second's worth of bucket counts to a
  Histogram child's ``_buckets``/``_sum`` values (no public bulk ``observe``; one ``observe`` per
  request costs a lock and an mmap write in multiprocess mode).
* :func:`server.observability.metrics_dir.in_multiprocess_mode` reads ``values.ValueClass``, the
  backend prometheus-client chose at import, instead of guessing from the environment.

pyproject.toml caps the version at the last one checked here; raising the cap means running this
file against the new version first.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, values

from server.observability.metrics_dir import in_multiprocess_mode

CHECKED = ((0, 20), (0, 27))  # [from, to): the versions whose internals this file was run against

INTERNALS = (
    "prometheus-client internals changed: server/observability/hotpath.py (LocalHistogram) and "
    "metrics_dir.py (in_multiprocess_mode) must be updated before this version can be used"
)


def test_installed_version_was_checked() -> None:
    version = tuple(int(p) for p in metadata.version("prometheus-client").split(".")[:2])
    assert CHECKED[0] <= version < CHECKED[1], \
        f"prometheus-client {version} is outside {CHECKED}: {INTERNALS}"


def test_histogram_child_has_the_values_hotpath_writes() -> None:
    child = Histogram("pin_h", "h", ["endpoint"], buckets=(0.1, 1.0),
                      registry=CollectorRegistry()).labels("x")
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    assert bounds is not None and list(bounds) == [0.1, 1.0, math.inf], INTERNALS
    assert isinstance(buckets, list) and len(buckets) == 3, INTERNALS
    assert all(callable(getattr(b, "inc", None)) and callable(getattr(b, "get",
                                                                      None)) for b in buckets), INTERNALS
    assert callable(getattr(total, "inc", None)), INTERNALS


def test_value_class_tells_the_mode() -> None:
    assert hasattr(values, "MutexValue") and hasattr(values, "ValueClass"), INTERNALS
    assert in_multiprocess_mode() is (os.environ.get("PROMETHEUS_MULTIPROC_DIR") is not None)


_CHILD = """
import json, sys
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from server.observability import hotpath
from server.observability.metrics_dir import in_multiprocess_mode

bounds = (0.0001, 0.0005, 0.001, 0.005)
values = [0.00005, 0.0001, 0.00011, 0.0007, 0.002, 0.2, 0.0001]
direct = Histogram("direct", "h", ["endpoint"], buckets=bounds)
local = hotpath.LocalHistogram(Histogram("local", "h", ["endpoint"], buckets=bounds), "rtd")
for v in values:
    direct.labels("rtd").observe(v)
    local.observe(v)
local.flush()
merged = CollectorRegistry()
MultiProcessCollector(merged)
out = {}
for family in merged.collect():
    for s in family.samples:
        out[s.name.replace(family.name, "") + json.dumps(sorted(s.labels.items())) + family.name] = s.value
json.dump({"multiprocess": in_multiprocess_mode(), "samples": out}, sys.stdout)
"""


def test_local_histogram_equals_observe_in_multiprocess_mode(tmp_path: Path) -> None:
    """What ``serve --workers N`` runs: values in mmap'd files, merged by MultiProcessCollector."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=60,
                          check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["multiprocess"] is True, INTERNALS
    samples: dict[str, float] = result["samples"]
    direct = {k.removesuffix("direct"): v for k, v in samples.items() if k.endswith("direct")}
    local = {k.removesuffix("local"): v for k, v in samples.items() if k.endswith("local")}
    assert direct and local.keys() == direct.keys(), INTERNALS
    for key, want in direct.items():
        assert math.isclose(local[key], want, rel_tol=1e-9), f"{key}: {local[key]} != {want}; {INTERNALS}"

