"""The exceptions segment-server raises on purpose, under one root.

Expected outcomes on the hot path (a refused token, a privacy denial, a token that fails to
decrypt) are *values*, never exceptions. Exceptions are for operator mistakes and broken
collaborators, and every one of them is a :class:`SegmentServerError`, so a command or a handler
can catch "ours" without catching a bug::

    SegmentServerError                 root; never raised itself
    ├── SettingsError                  bad configuration (also a ValueError); ``errors`` names each
    │                                  key as "section.key: problem", every one, not just the first
    ├── BatchError                     an admin batch with bad items, each named; nothing written → 400
    ├── ClusterUnavailable             [cluster] a live edit or job write the engine could not take;
    │                                  nothing changed → 503 ``cluster_unavailable``
    └── AuthError                      server.auth: operator mistakes at the admin API / CLI
        ├── IdentityNotFound           → 404
        ├── InvalidScope               → 400
        ├── InvalidLifetime            → 400
        ├── InvalidRequest             → 400
        ├── AuthDatabaseError          auth.sqlite3 damaged at start; names the file (exit non-zero)
        ├── AuthDatabaseUnavailable    auth.sqlite3 unreadable while serving → 503
        └── RevocationNotShared        [cluster] a revoke other nodes cannot learn yet → 503

The HTTP answer for each (status, ``{"error", "detail"}`` body) is one table of Starlette
exception handlers, :data:`server.auth.exception_handlers.EXCEPTION_HANDLERS`; admin handlers
raise and never build an error response themselves.

Elsewhere, on purpose outside this tree: ``segments/`` never imports ``server/``, so its
``NoSnapshot``, ``RowError`` and ``InvalidSegment`` are plain exceptions (the admin API maps them
to 409/400 in :mod:`server.auth.exception_handlers`); the UID2 operator's ``OperatorError``,
``KeyParseError`` and ``EnvelopeError`` report the network's input and keep their own bases.
"""

from __future__ import annotations

__all__ = ["BatchError", "SegmentServerError", "SettingsError"]


class SegmentServerError(Exception):
    """Base class for every exception segment-server raises on purpose."""


class SettingsError(SegmentServerError, ValueError):
    """One or more settings are invalid; ``errors`` lists each as ``section.key: problem``.

    Raised by the one loader (:func:`server.config.load_settings`, and a section's
    ``from_mapping``) with *every* bad key, and by code that reads a secret late (a UID2 secret
    file, a Xandr password file) with the one it could not use. Commands print it and exit 2.
    """

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(errors))
        self.errors = errors


class BatchError(SegmentServerError):
    """A batch with per-item problems; nothing was written. ``errors`` name each item by index."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors
