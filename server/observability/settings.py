"""``[observability]`` settings: log format, who may read the status page and ``/metrics``, flush cadence.

The access-log sample rate stays in ``[server]`` (``access_log_sample_rate``), where it already was.
The access rules themselves are described in :mod:`server.observability.access`.
"""

from __future__ import annotations

import ipaddress
import os
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
    #: Answer the status page to loopback clients only, without a token; false: to admin-scope tokens.
    status_local_only: bool = True
    #: Seconds between moves of the hot-path tallies into prometheus-client (and gauge samples).
    metrics_flush_interval_seconds: float = 1.0
    #: Seconds between reads of the mirror outbox (a SQLite COUNT) for gauges and the status page.
    outbox_sample_interval_seconds: float = 5.0
    #: Access lines for responses with at least this status are always written, sampled or not.
    access_log_error_status: int = 400
    #: Networks whose clients may read ``/metrics`` without a token (default: this machine only).
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    #: A static bearer token that also opens ``/metrics`` (for a Prometheus ``credentials_file``).
    metrics_token: str = ""
    #: The same token read from a file (a mounted secret); used when ``metrics_token`` is empty.
    metrics_token_file: str = ""

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
        for network in self.metrics_allow:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                problems.append(f"metrics_allow: {network!r} is not an IP network (e.g. '10.0.0.0/8')")
        if self.metrics_token_file and not os.access(self.metrics_token_file, os.R_OK):
            problems.append(f"metrics_token_file: cannot read {self.metrics_token_file!r}")
        return problems


def from_settings(settings: object) -> ObservabilitySettings:
    """The ``[observability]`` section of a :class:`server.config.Settings` (or of anything with a
    ``sections`` mapping, as tests build), else the defaults."""
    found = getattr(settings, "observability", None)
    sections = getattr(settings, "sections", None)
    if found is None and isinstance(sections, Mapping):
        found = sections.get("observability")
    return found if isinstance(found, ObservabilitySettings) else ObservabilitySettings()
