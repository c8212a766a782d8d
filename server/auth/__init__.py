"""Access control: scoped, revocable identities; signed bearer tokens; OAuth2 client credentials.

Public API (everything else is an implementation detail)::

    from server.auth import AuthSettings, Guard, IdentityService, RevocationView, TokenEndpoint

    settings = AuthSettings.from_mapping(config["auth"])          # validated before fork
    service = IdentityService(data_dir, settings)                  # admin API, OAuth, CLI
    guard = Guard(RevocationView(data_dir, refresh_s=settings.revocation_refresh_s), settings)
    denial = guard.check(request_headers.get("authorization"), "rtd")   # None = allowed
    if denial is not None:
        return denial.response()                                   # 401/403 per RFC 6750

Modules: ``scopes`` (rtd/segments/admin), ``settings`` (``[auth]``), ``db`` (the shared SQLite
file), ``identities`` (identity store), ``client_secrets`` (scrypt), ``keys`` (signing-key
rotation), ``tokens`` (HMAC token codec), ``revocation`` (per-worker view, ≤0.5 s stale),
``guard`` (hot-path check), ``service`` (the Azure-modelled operations), ``ratelimit`` and
``oauth`` (``POST /oauth/token``), ``jsonio`` + ``admin_identities`` (``/admin/identities…``),
``openapi`` (document fragments), ``demo`` (``make run`` token), ``cli``.
Exceptions are listed in :mod:`server.auth.errors`.
"""

from server.auth.admin_identities import admin_identity_routes
from server.auth.demo import ensure_demo_identity
from server.auth.errors import (
    AuthError,
    IdentityNotFound,
    InvalidLifetime,
    InvalidRequest,
    InvalidScope,
    SettingsError,
)
from server.auth.guard import Denial, Guard, RequireScope, require
from server.auth.identities import Identity, IdentityStore
from server.auth.keys import KeyStore
from server.auth.oauth import TokenEndpoint
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
    "ensure_demo_identity",
    "require",
]
