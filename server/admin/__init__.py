"""The ops admin API beyond identities: taxonomy, memberships, reload and status.

Every route requires a token with the ``admin`` scope (see :mod:`server.auth`)::

    from server.admin import admin_routes

    routes += admin_routes(data_dir, lambda: app.state.services.store, guard,
                           identities=identity_service, providers={"mirror": mirror_status})

==========================  ==============  ===============================================
route                       methods         does
==========================  ==============  ===============================================
``/admin/taxonomy``         GET, POST/PUT   list; upsert a batch (≤ 1000) of segments
``/admin/taxonomy/{id}``    DELETE          delete a segment
``/admin/memberships``      GET, POST       one key's memberships; upsert/delete ≤ 1000
``/admin/reload``           POST            re-check the snapshot now (this worker)
``/admin/status``           GET             store, auth keys/revocations, providers
==========================  ==============  ===============================================
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from starlette.routing import Route

from segments.store import StoreWriter
from server.admin.common import MAX_BATCH, StoreGetter
from server.admin.memberships import membership_routes
from server.admin.openapi import openapi_paths
from server.admin.status import StatusProvider, status_routes
from server.admin.taxonomy import taxonomy_routes
from server.auth.guard import Guard
from server.auth.service import IdentityService
from server.auth.types import Clock

__all__ = ["MAX_BATCH", "StatusProvider", "StoreGetter", "admin_routes", "openapi_paths"]


def admin_routes(
    data_dir: str | os.PathLike[str],
    get_store: StoreGetter,
    guard: Guard,
    *,
    identities: IdentityService | None = None,
    providers: Mapping[str, StatusProvider] | None = None,
    clock: Clock = time.time,
) -> list[Route]:
    """All ``/admin`` routes of this package. ``get_store`` is called per request because the
    app builds its store in the lifespan (after fork), later than the routes."""
    writer = StoreWriter(Path(data_dir))
    return [
        *taxonomy_routes(writer, get_store, guard),
        *membership_routes(writer, get_store, guard),
        *status_routes(get_store, guard, identities, providers, clock=clock),
    ]
