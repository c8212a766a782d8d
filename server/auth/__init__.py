"""Access control: scoped, revocable identities; signed bearer tokens; OAuth2 client credentials.

Public API (everything else is an implementation detail)::

    from server.auth import AuthSettings, build_auth

    settings = AuthSettings.from_mapping(config["auth"])   # validated before fork
    auth = build_auth(data_dir, settings)                   # fork-safe: nothing held open
    routes += auth.routes()                                 # /oauth/token, /admin/identities…
    auth.startup()  /  auth.shutdown()                      # in the lifespan, per worker
    denial = auth.guard.check(authorization_header, "rtd")  # None = allowed
    if denial is not None:
        return denial.response()                            # 401/403 per RFC 6750

Modules: ``scopes`` (rtd/segments/admin), ``settings`` (``[auth]``), ``db`` (the shared SQLite
file), ``identities`` (identity store), ``client_secrets`` (scrypt), ``keys`` (signing-key
rotation), ``tokens`` (HMAC token codec), ``revocation`` (per-worker view, ≤0.5 s stale),
``guard`` (hot-path check), ``service`` (the Azure-modelled operations), ``ratelimit`` and
``oauth`` (``POST /oauth/token``), ``jsonio`` + ``admin_identities`` (``/admin/identities…``),
``openapi`` (document fragments), ``components`` (app wiring), ``demo`` (``make run`` token), ``cli``.
Exceptions are listed in :mod:`server.auth.errors`.
"""

from server.auth.admin_identities import admin_identity_routes
from server.auth.components import AuthComponents, build_auth, startup_problem
from server.auth.demo import ensure_demo_identity
from server.auth.errors import (
    AuthDatabaseError,
    AuthDatabaseUnavailable,
    AuthError,
    IdentityNotFound,
    InvalidLifetime,
    InvalidRequest,
    InvalidScope,
    SettingsError,
)
from server.auth.guard import Denial, Guard
from server.auth.identities import Identity, IdentityStore
from server.auth.keys import KeyStore
from server.auth.oauth import TokenEndpoint
from server.auth.require import RequireScope, require
from server.auth.revocation import RevocationView
from server.auth.scopes import ADMIN, ALL_SCOPES, RTD, SEGMENTS
from server.auth.service import IdentityService, IssuedToken
from server.auth.settings import AuthSettings
from server.auth.tokens import Claims, TokenStatus

__all__ = [
    "ADMIN",
    "ALL_SCOPES",
    "RTD",
    "SEGMENTS",
    "AuthComponents",
    "AuthDatabaseError",
    "AuthDatabaseUnavailable",
    "AuthError",
    "AuthSettings",
    "Claims",
    "Denial",
    "Guard",
    "Identity",
    "IdentityNotFound",
    "IdentityService",
    "IdentityStore",
    "InvalidLifetime",
    "InvalidRequest",
    "InvalidScope",
    "IssuedToken",
    "KeyStore",
    "RequireScope",
    "RevocationView",
    "SettingsError",
    "TokenEndpoint",
    "TokenStatus",
    "admin_identity_routes",
    "build_auth",
    "ensure_demo_identity",
    "require",
    "startup_problem",
]
