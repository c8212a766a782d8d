"""Build the per-worker :class:`Services` from settings and run their background tasks.

Every optional subsystem (UID2 keys, auth, Xandr mirror) is wired here and nowhere else, so the
handlers stay ignorant of how their collaborators are made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from segments.store import SnapshotDir, SQLiteStore
from server.config import Settings
from server.health import ReadinessCheck
from server.privacy import PrivacyGate
from server.services import Services


def build_services(settings: Settings) -> Services:
    SnapshotDir(settings.data_dir).ensure()
    store = SQLiteStore(settings.data_dir, check_interval=settings.store.check_interval_seconds)
    gate = PrivacyGate(settings.privacy)
    return Services(settings=settings, store=store, gate=gate)


def readiness_checks(svc: Services) -> dict[str, ReadinessCheck]:
    def store_check() -> tuple[bool, str]:
        info = svc.store.info
        return info.version > 0, f"snapshot v{info.version}, {info.members} keys, {info.segments} segments"

    return {"store": store_check}


async def start_background(svc: Services) -> list[asyncio.Task[Any]]:
    return []


async def stop_background(svc: Services, tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
