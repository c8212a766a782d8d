"""The hot-path seam: is this ``Authorization`` header good for this scope?

``Guard.check(header, scope)`` returns ``None`` (let it through) or a :class:`Denial`, a
prebuilt RFC 6750 answer that renders as a Starlette response. No I/O per request: token checks
are HMAC against in-memory keys and a dict lookup for revocation; the
:class:`~server.auth.revocation.RevocationView` re-syncs from SQLite at most every ~0.5 s.

Responses (RFC 6750 §3, §3.1):

* no credentials, or a scheme other than Bearer → 401, ``WWW-Authenticate: Bearer realm="…"``
  *without* an error code (§3.1: "SHOULD NOT include an error code" when no credentials were
  sent, since the client may simply not know auth is needed);
* a malformed, forged, unknown-key, expired, revoked or deleted-identity token → 401 with
  ``error="invalid_token"``;
* a good token without the endpoint's scope → 403 ``error="insufficient_scope"`` and
  ``scope="…"`` naming what is needed.

A scope whose endpoint is switched off in :class:`AuthSettings` (IP-allow-listed deployments)
is always let through.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

import orjson
from starlette.responses import Response

from segments.bounded import BoundedCache
from server.auth.revocation import RevocationView
from server.auth.scopes import ALL_SCOPES, SCOPE_BITS
from server.auth.settings import AuthSettings
from server.auth.tokens import TOKEN_LEN, Claims, MacKey, TokenStatus, verify
from server.auth.types import Clock
from server.metrics import AUTH_FAILURES

_BEARER: Final = "bearer "
# Tokens already verified against the current key set, so the HMAC runs once per token and key
# set, not once per request (Index sends the same bearer token on every call). Only good tokens
# are remembered; expiry, revocation and scope are still checked on every request.
VERIFIED_CACHE_SIZE: Final = 1024
VERIFIED_TOKEN_MAX: Final = TOKEN_LEN  # only a well-formed token verifies: every entry is this size
_FAIL: Final = {
    reason: AUTH_FAILURES.labels(reason=reason)
    for reason in ("missing", "wrong_scheme", "malformed", "unknown_key", "bad_signature", "expired",
                   "revoked", "scope")
}


class Denial:
    """A refusal, ready to send: status, RFC 6750 challenge and a small JSON body.

    Built once per (reason, scope) when the guard is created, so refusing costs nothing extra.
    """

    __slots__ = ("body", "description", "error", "headers", "reason", "reply", "status")

    def __init__(self, status: int, error: str | None, description: str, reason: str, realm: str,
                 scope: str | None = None) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.reason = reason  # metrics code
        challenge = f'Bearer realm="{realm}"'
        if error is not None:
            challenge += f', error="{error}", error_description="{description}"'
        if scope is not None:
            challenge += f', scope="{scope}"'
        self.headers = {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        self.body = orjson.dumps({"error": error or "unauthorized", "error_description": description})
        # the same answer for the hot endpoints, which send (status, headers, body) themselves
        self.reply: tuple[int, list[tuple[bytes, bytes]], bytes] = (
            status, [(b"www-authenticate", challenge.encode("latin-1")), (b"cache-control", b"no-store"),
                     (b"content-type", b"application/json")], self.body)

    def response(self) -> Response:
        """A fresh Starlette response (responses are single-use ASGI apps)."""
        return Response(self.body, status_code=self.status, headers=self.headers,
                        media_type="application/json")

    def __repr__(self) -> str:
        return f"Denial({self.status}, {self.reason!r})"


class Guard:
    """Checks bearer tokens against the shared key/revocation view."""

    def __init__(self, view: RevocationView, settings: AuthSettings | None = None, *,
                 clock: Clock = time.time) -> None:
        self.view = view
        self.settings = settings or AuthSettings()
        self._clock = clock
        self._enabled = self.settings.enabled_scopes
        self._verified: BoundedCache[str, Claims] = BoundedCache(VERIFIED_CACHE_SIZE, VERIFIED_TOKEN_MAX)
        self._verified_with: object = None  # the key map the remembered tokens were verified against
        realm = self.settings.realm
        self._missing = Denial(401, None, "bearer token required", "missing", realm)
        self._wrong_scheme = Denial(401, None, "bearer token required", "wrong_scheme", realm)
        invalid = {s: Denial(401, "invalid_token", "invalid token", s.value, realm) for s in TokenStatus}
        invalid[TokenStatus.EXPIRED] = Denial(401, "invalid_token", "token expired", "expired", realm)
        self._invalid = invalid
        self._revoked = Denial(401, "invalid_token", "token revoked", "revoked", realm)
        self._scope = {
            s: Denial(403, "insufficient_scope", f"token lacks scope {s}", "scope", realm, scope=s)
            for s in ALL_SCOPES
        }

    def enabled(self, scope: str) -> bool:
        """Whether ``scope``'s endpoints require a token in this deployment."""
        return scope in self._enabled

    def check(self, authorization: str | None, scope: str) -> Denial | None:
        """``None`` if ``authorization`` grants ``scope`` (or auth is off for it); else the refusal."""
        if scope not in self._enabled:
            if scope in ALL_SCOPES:
                return None
            raise ValueError(f"unknown scope {scope!r}")  # a typo must not silently open an endpoint
        result = self.authenticate(authorization, scope)
        return result if isinstance(result, Denial) else None

    def authenticate(self, authorization: str | None, scope: str) -> Claims | Denial:
        """Like :meth:`check` but returns the token's claims on success (for audit logging)."""
        if not authorization:
            return self._deny(self._missing)
        if authorization[:7].lower() != _BEARER:
            return self._deny(self._wrong_scheme)
        view = self.view
        view.maybe_refresh()
        result = self._verify(authorization[7:].strip(), view.keys, self._clock())
        if isinstance(result, TokenStatus):
            return self._deny(self._invalid[result])
        not_before = view.not_before.get(result.identity)
        if not_before is not None and result.issued_at_ms < not_before:
            return self._deny(self._revoked)
        bit = SCOPE_BITS.get(scope)
        if bit is None:
            raise ValueError(f"unknown scope {scope!r}")  # a programming error, not a request error
        if not result.scope_mask & bit:
            return self._deny(self._scope[scope])
        return result

    def _verify(self, token: str, keys: Mapping[int, MacKey], now: float) -> Claims | TokenStatus:
        """:func:`verify`, remembering good tokens until the key set changes (a rotation or a
        deleted key replaces ``keys``, which empties the memory)."""
        if keys is not self._verified_with:
            self._verified.clear()
            self._verified_with = keys
        claims = self._verified.get(token)
        if claims is None:
            result = verify(token, keys, now)
            if isinstance(result, TokenStatus):
                return result
            self._verified.put(token, result, len(token))
            claims = result
        elif claims.expires_at <= now:
            return TokenStatus.EXPIRED
        return claims

    @staticmethod
    def _deny(denial: Denial) -> Denial:
        _FAIL[denial.reason].inc()
        return denial
