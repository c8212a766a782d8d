from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from server.observability.logging import configure_logging, set_stream


class Captured(io.StringIO):
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line.strip()]


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    """Every JSON log line (structlog and stdlib) written while the test runs."""
    buf = Captured()
    configure_logging("debug", "json", stream=buf, force=True)
    yield buf
    set_stream(None)
