"""One call to build everything the app needs from this package, fork-safely.

Nothing here holds an open connection after construction (the store opens short-lived ones, the
revocation view opens lazily and re-opens after ``fork``), so :func:`build_auth` may run before
uvicorn forks its workers; :meth:`AuthComponents.startup` / :meth:`~AuthComponents.shutdown`
belong in the lifespan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from starlette.routing import Route

from server.auth.admin_identities import admin_identity_routes
from server.auth.guard import Guard
from server.auth.oauth import TokenEndpoint
from server.auth.revocation import RevocationView
from server.auth.service import IdentityService
from server.auth.settings import AuthSettings


@dataclass
class AuthComponents:
    service: IdentityService
    view: RevocationView
    guard: Guard
    token_endpoint: TokenEndpoint

    def routes(self) -> list[Route]:
        """``POST /oauth/token`` and ``/admin/identities…``."""
        return [*self.token_endpoint.routes(), *admin_identity_routes(self.service, self.guard)]

    def startup(self) -> None:
        """Lifespan start (per worker): make sure a signing key exists, then load the view."""
        self.service.keys.ensure_key()
        self.view.refresh(force=True)

    def shutdown(self) -> None:
        """Lifespan end: close this worker's view connection."""
        self.view.close()


def build_auth(data_dir: str | os.PathLike[str], settings: AuthSettings | None = None) -> AuthComponents:
    settings = settings or AuthSettings()
    service = IdentityService(data_dir, settings)
    view = RevocationView(data_dir, refresh_s=settings.revocation_refresh_s)
    return AuthComponents(service, view, Guard(view, settings), TokenEndpoint(service))
