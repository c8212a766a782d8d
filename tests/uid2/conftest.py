"""Shared fixtures: the vectors file (a copy of shared/testdata/uid2/vectors.json) and its key sets."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A fresh clone run as plain `pytest`, without the package installed. `tests/` goes on the path too,
# so the fakes import as `fakes.*`: a third-party wheel installs a top-level `tests` package into
# site-packages, which shadows `tests.fakes` while `tests/` has no `__init__.py`.
for path in (ROOT / "tests", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from server.uid2 import KeySet, parse_key_response

DATA = Path(__file__).parent / "data"
VECTORS: dict[str, Any] = json.loads((DATA / "vectors.json").read_text())
SECRET = bytes(range(32))


def instant(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


REFERENCE_NOW = instant(VECTORS["reference_now"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def key_sets() -> dict[str, KeySet]:
    return {name: parse_key_response(doc) for name, doc in VECTORS["key_sets"].items()}
