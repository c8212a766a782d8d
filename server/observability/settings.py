"""``[observability]`` settings: log format, status page access, metric flush cadence.

The access-log sample rate stays in ``[server]`` (``access_log_sample_rate``), where it already was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from server.sections import Section

LogFormat = Literal["json", "console"]


@dataclass(frozen=True)
class ObservabilitySettings(Section):
    section: ClassVar[str] = "observability"

    #: "json": one JSON object per line on stdout (production); "console": readable, for a terminal.
    log_format: LogFormat = "json"
    #: Serve ``GET /status`` and ``GET /status.json``.
    status_page_enabled: bool = True
    #: Without an admin-scope guard, answer the status page only to loopback clients.
    status_local_only: bool = True
    #: Seconds between moves of the hot-path tallies into prometheus-client (and gauge samples).
    metrics_flush_interval_seconds: float = 1.0
    #: Seconds between reads of the mirror outbox (a SQLite COUNT) for gauges and the status page.
    outbox_sample_interval_seconds: float = 5.0
    #: Access lines for responses with at least this status are always written, sampled or not.
    access_log_error_status: int = 400

    def validate(self, section: str) -> list[str]:
        problems = []
        if self.log_format not in ("json", "console"):
            problems.append(f"log_format: expected 'json' or 'console', got {self.log_format!r}")
        if not 0.05 <= self.metrics_flush_interval_seconds <= 60:
            problems.append("metrics_flush_interval_seconds: expected 0.05–60")
        if not 0.5 <= self.outbox_sample_interval_seconds <= 3600:
            problems.append("outbox_sample_interval_seconds: expected 0.5–3600")
        if not 100 <= self.access_log_error_status <= 600:
            problems.append("access_log_error_status: expected an HTTP status, 100–600")
        return problems


def from_settings(settings: object) -> ObservabilitySettings:
    """The ``[observability]`` section of a :class:`server.config.Settings` (or of anything with a
    ``sections`` mapping, as tests build), else the defaults."""
    found = getattr(settings, "observability", None)
    sections = getattr(settings, "sections", None)
    if found is None and isinstance(sections, Mapping):
        found = sections.get("observability")
    return found if isinstance(found, ObservabilitySettings) else ObservabilitySettings()
