"""Suite-wide fixtures."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _unfreeze_gc() -> Iterator[None]:
    """An app started in a test freezes the heap (``server.runtime``); give it back to the collector
    afterwards, or every later test's garbage would be kept for the rest of the run."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
