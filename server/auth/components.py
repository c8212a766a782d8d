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

from server.auth import db
from server.auth.admin_identities import admin_identity_routes
from server.auth.errors import AuthDatabaseError
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

    def readiness(self) -> tuple[bool, str]:
        """Readiness check for ``/health/ready``: is the auth database readable (probed every few s)?"""
        return self.service.health.check()

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
    view = RevocationView(data_dir, refresh_s=settings.revocation_refresh_s, health=service.health)
    return AuthComponents(service, view, Guard(view, settings), TokenEndpoint(service))


def startup_problem(data_dir: str | os.PathLike[str]) -> str | None:
    """Why the server must not start with this data dir's auth database, or ``None`` if it may.

    The ``serve`` command calls this before forking workers: it creates the database if there is
    none, and refuses a damaged one by name (exit non-zero) instead of letting every worker die
    in a loop, or — for an emptied file — starting over with no clients and no revocations.
    """
    try:
        db.ensure_database(db.db_path(data_dir))
    except AuthDatabaseError as exc:
        return (f"refusing to start: {exc}. It holds every client's credentials, signing keys and "
                "revocations: restore it from a backup, or move it aside to start over with no clients "
                "(every existing token and client secret then stops working).")
    return None
