"""Adapters that let subsystem settings classes join the config loader's sections.

UID2 and EUID share one settings class but read their conventional secret variables with
different prefixes (``UID2_API_KEY`` / ``EUID_API_KEY``), in addition to ``SEGMENT_SERVER_*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from server.uid2 import UID2Settings


class UID2Section:
    @staticmethod
    def from_mapping(values: Mapping[str, Any]) -> UID2Settings:
        return UID2Settings.from_mapping(values, env=os.environ, env_prefix="UID2_")


class EUIDSection:
    @staticmethod
    def from_mapping(values: Mapping[str, Any]) -> UID2Settings:
        return UID2Settings.from_mapping(values, env=os.environ, env_prefix="EUID_")
