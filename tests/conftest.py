"""Suite-wide fixtures and policies.

* **No silent skips in CI.** Under ``CI=true`` a skipped test is reported as a failure with its
  reason: a skip there hides a path (the status page in Chromium, the uid2-client cross-check, the
  compiled build) that CI exists to run. Locally a skip stays a skip, with its reason shown (-ra).
* **Hypothesis with intent.** Profile ``ci`` (the default, used by ``make test``): derandomized, so
  a run is reproducible, with bounded examples. Profile ``deep`` (``HYPOTHESIS_PROFILE=deep``, used
  by ``make reliability``): random, and 10× every property's examples, its own settings included.
  Neither has a per-example deadline: time is measured by the benchmarks in loadtest/, never
  asserted in tests.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

DEEP_FACTOR = 10
settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None, print_blob=True)
settings.register_profile("deep", max_examples=100 * DEEP_FACTOR, deadline=None, print_blob=True)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``deep``, a property's own ``@settings(max_examples=N)`` becomes 10 N as well."""
    if PROFILE != "deep":
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if isinstance(own, settings) and own.max_examples < 100 * DEEP_FACTOR:
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                own, max_examples=own.max_examples * DEEP_FACTOR, derandomize=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and _in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which runs every path: {reason}"


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """An app started in a test freezes the heap (``server.runtime``); give it back to the collector
    afterwards, or every later test's garbage would be kept for the rest of the run."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
