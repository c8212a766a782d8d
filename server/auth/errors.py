"""Exceptions raised by the auth package.

Expected outcomes on the hot path (a refused token, a missing scope) are *values* — see
:class:`server.auth.guard.Denial` and :class:`server.auth.tokens.TokenStatus` — not exceptions.
Exceptions are for operator mistakes at the admin API / CLI, and for an auth database that
cannot be read (the whole tree, with the rest of segment-server's, is drawn in :mod:`server.errors`)::

    AuthError                       base class; never raised itself
    ├── IdentityNotFound            the identity id does not exist (or was deleted)   → 404
    ├── InvalidScope                unknown scope name, or a scope the identity lacks → 400
    ├── InvalidLifetime             token lifetime outside 1–24 hours                 → 400
    ├── InvalidRequest              malformed admin/CLI input (JSON, field types)     → 400
    ├── SettingsError               = server.errors.SettingsError, the one class for bad settings
    ├── AuthDatabaseError           auth.sqlite3 damaged or unreadable at start; names the file
    └── AuthDatabaseUnavailable     auth.sqlite3 unreadable while serving             → 503
"""

from __future__ import annotations

from server.errors import SegmentServerError, SettingsError  # SettingsError: the one class, re-exported

__all__ = [
    "AuthDatabaseError",
    "AuthDatabaseUnavailable",
    "AuthError",
    "IdentityNotFound",
    "InvalidLifetime",
    "InvalidRequest",
    "InvalidScope",
    "SettingsError",
]


class AuthError(SegmentServerError):
    """Base class for every exception this package raises on purpose."""


class IdentityNotFound(AuthError):
    """Raised when an operation names an identity id that does not exist (or was deleted)."""


class InvalidScope(AuthError):
    """Raised for an unknown scope name, or for asking a token to carry a scope its identity lacks."""


class InvalidLifetime(AuthError):
    """Raised when a requested token lifetime is outside the allowed 1–24 hour range."""


class InvalidRequest(AuthError):
    """Raised for malformed admin/CLI input: not JSON, empty display name, wrong field types."""


class AuthDatabaseError(AuthError):
    """The auth database file is damaged or unreadable; ``path`` names it.

    Raised at startup (the server refuses to start rather than begin again with no clients) and
    by the CLI. While serving, read failures become :class:`AuthDatabaseUnavailable` (a 503).
    """

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"auth database {path} {problem}")
        self.path, self.problem = path, problem


class AuthDatabaseUnavailable(AuthError):
    """The auth database could not be read or written while serving; the message says why.

    Raised in place of the ``sqlite3.Error`` by :func:`server.auth.dbhealth.reporting` (which
    records it for readiness first), so the endpoints answer 503 through the one exception table
    while tokens already issued keep verifying from memory.
    """
