"""What every ``/admin`` handler shares: the admin-scope guard, JSON errors, and store access.

Handlers raise; the one exception table (:data:`~server.auth.exception_handlers.EXCEPTION_HANDLERS`)
maps each exception to its JSON answer, and :func:`endpoint` installs it, behind the admin-scope
guard, around each admin route. Store writes block (flock + SQLite), so handlers run them in the
thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from segments.store.base import SegmentStore
from server.auth.exception_handlers import EXCEPTION_HANDLERS
from server.auth.exception_handlers import admin_endpoint as endpoint
from server.errors import BatchError

__all__ = ["EXCEPTION_HANDLERS", "MAX_BATCH", "BatchError", "StoreGetter", "endpoint"]

#: Largest batch one admin request may carry; bulk data goes through ``segment-server load``.
MAX_BATCH: Final = 1000

StoreGetter = Callable[[], SegmentStore]
