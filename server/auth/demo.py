"""A working demo token for ``make run``, so the demo keeps auth *on*.

The demo identity is found by display name (``demo``) and reused across runs; each call issues
a fresh token (default lifetime) with every scope, so the printed token works on ``/rtd``,
``/segments`` and ``/admin``. It has no client secret: nobody can mint more tokens for it
over OAuth.
"""

from __future__ import annotations

import os
import time
from typing import Final

from server.auth.scopes import ALL_SCOPES
from server.auth.service import IdentityService
from server.auth.settings import AuthSettings
from server.auth.types import Clock

DEMO_NAME: Final = "demo"


def ensure_demo_identity(
    data_dir: str | os.PathLike[str], settings: AuthSettings | None = None, *, clock: Clock = time.time
) -> str:
    """Create the demo identity if missing and return a fresh all-scope bearer token for it."""
    service = IdentityService(data_dir, settings, clock=clock)
    service.keys.ensure_key()
    existing = [i for i in service.list_identities()
                if i.display_name == DEMO_NAME and i.scopes == ALL_SCOPES]
    identity = existing[0] if existing else service.create_identity(DEMO_NAME, ALL_SCOPES,
                                                                    with_secret=False)[0]
    return service.get_token(identity.id).token
