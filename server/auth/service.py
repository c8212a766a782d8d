"""Identity operations, modelled on Azure's ``CommunicationIdentityClient``.

=============================  ==========================================
Azure                          here
=============================  ==========================================
``create_user``                :meth:`IdentityService.create_identity`
``get_token(user, scopes,      :meth:`IdentityService.get_token`
token_expires_in)``            (lifetime 1–24 h, default 24 h)
``create_user_and_token``      :meth:`IdentityService.create_identity_and_token`
``revoke_tokens``              :meth:`IdentityService.revoke_tokens`
``delete_user``                :meth:`IdentityService.delete_identity`
=============================  ==========================================

The admin API, the OAuth endpoint and the CLI all go through this one class, so the rules
(a token never carries a scope its identity lacks; lifetime bounds) live in one place. Every
method does blocking SQLite (and, for secrets, scrypt) work: async callers use a thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from server.auth.dbhealth import AuthDbHealth
from server.auth.errors import InvalidLifetime, InvalidScope
from server.auth.identities import Identity, IdentityStore
from server.auth.keys import KeyStore
from server.auth.scopes import format_scopes, parse_scopes, to_mask
from server.auth.settings import LIFETIME_RANGE_TEXT, MAX_LIFETIME_S, MIN_LIFETIME_S, AuthSettings
from server.auth.tokens import Claims, encode
from server.auth.types import Clock

log = structlog.get_logger("server.auth")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued access token. ``token`` is a bearer secret: return it, never log it."""

    token: str
    identity_id: str
    scopes: frozenset[str]
    expires_at: int
    expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "token_type": "Bearer",
            "scopes": sorted(self.scopes),
            "expires_in": self.expires_in,
            "expires_at": self.expires_at,
        }

    def __repr__(self) -> str:  # keep the token out of tracebacks and debug output
        return (f"IssuedToken(identity_id={self.identity_id!r}, scopes={sorted(self.scopes)}, "
                f"expires_at={self.expires_at})")


def check_lifetime(lifetime_s: object) -> int:
    """``lifetime_s`` as an int in 3600–86400; raises :class:`InvalidLifetime` naming the range."""
    if isinstance(lifetime_s, bool) or not isinstance(lifetime_s, int):
        raise InvalidLifetime(f"expires_in must be an integer number of seconds {LIFETIME_RANGE_TEXT}")
    if not MIN_LIFETIME_S <= lifetime_s <= MAX_LIFETIME_S:
        raise InvalidLifetime(f"expires_in must be {LIFETIME_RANGE_TEXT}; got {lifetime_s}")
    return lifetime_s


def check_token_scopes(requested: Iterable[str] | str | None, allowed: frozenset[str]) -> frozenset[str]:
    """Scopes for a new token: ``None`` means all the identity may have; never more than that."""
    scopes = allowed if requested is None else parse_scopes(requested)
    if not scopes:
        raise InvalidScope("a token needs at least one scope")
    extra = scopes - allowed
    if extra:
        raise InvalidScope(f"scope(s) {sorted(extra)} not allowed for this identity "
                           f"(allowed: {sorted(allowed)})")
    return scopes


class IdentityService:
    """Identities and tokens over the auth database in ``data_dir``."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        settings: AuthSettings | None = None,
        *,
        clock: Clock = time.time,
        logger: Any = None,
    ) -> None:
        self.settings = settings or AuthSettings()
        # Audit events (ids, scopes, expiry — never tokens or secrets). The CLI passes a logger
        # writing to stderr so that its stdout stays pure JSON.
        self._log = logger if logger is not None else log
        self._clock = clock
        self.store = IdentityStore(data_dir, clock=clock, scrypt_n=self.settings.scrypt_n)
        self.keys = KeyStore(data_dir, clock=clock, rotation_s=self.settings.key_rotation_s)
        #: Whether the auth database reads fine; endpoints report here and readiness reads it.
        self.health = AuthDbHealth(self.store.path)

    def create_identity(
        self, display_name: str, scopes: Iterable[str], *, with_secret: bool = True
    ) -> tuple[Identity, str | None]:
        """Create an identity allowed ``scopes``; the client secret (if any) is returned only here."""
        identity, secret = self.store.create(display_name, scopes, with_secret=with_secret)
        self._log.info("auth.identity_created", identity_id=identity.id,
                       scopes=format_scopes(identity.scopes),
                 has_client_secret=secret is not None)
        return identity, secret

    def get_identity(self, identity_id: str) -> Identity:
        return self.store.get(identity_id)

    def list_identities(self) -> list[Identity]:
        return self.store.list()

    def get_token(
        self, identity_id: str, scopes: Iterable[str] | str | None = None, lifetime_s: object = None
    ) -> IssuedToken:
        """Issue a token for an existing identity (Azure ``get_token``)."""
        lifetime = check_lifetime(self.settings.default_lifetime_s if lifetime_s is None else lifetime_s)
        identity = self.store.get(identity_id)
        return self._issue(identity, check_token_scopes(scopes, identity.scopes), lifetime)

    def create_identity_and_token(
        self,
        display_name: str,
        scopes: Iterable[str],
        *,
        token_scopes: Iterable[str] | str | None = None,
        lifetime_s: object = None,
        with_secret: bool = False,
    ) -> tuple[Identity, str | None, IssuedToken]:
        """Create an identity and issue its first token in one call; validates all input first."""
        lifetime = check_lifetime(self.settings.default_lifetime_s if lifetime_s is None else lifetime_s)
        check_token_scopes(token_scopes, parse_scopes(scopes))
        identity, secret = self.create_identity(display_name, scopes, with_secret=with_secret)
        return identity, secret, self._issue(identity, check_token_scopes(token_scopes, identity.scopes),
                                             lifetime)

    def revoke_tokens(self, identity_id: str) -> int:
        """Revoke every token issued so far; returns the new not-before time (ms)."""
        not_before = self.store.revoke_tokens(identity_id)
        self._log.info("auth.tokens_revoked", identity_id=identity_id, not_before_ms=not_before)
        return not_before

    def delete_identity(self, identity_id: str) -> None:
        """Delete the identity; its tokens are refused everywhere within the refresh interval."""
        self.store.delete(identity_id)
        self._log.info("auth.identity_deleted", identity_id=identity_id)

    def authenticate_client(self, client_id: str, client_secret: str) -> Identity | None:
        """OAuth client authentication (scrypt; slow on purpose)."""
        return self.store.authenticate(client_id, client_secret)

    def issue_for(self, identity: Identity, scopes: frozenset[str], lifetime_s: int) -> IssuedToken:
        """Issue for an already-authenticated identity with already-checked scopes (OAuth path)."""
        return self._issue(identity, check_token_scopes(scopes, identity.scopes), check_lifetime(lifetime_s))

    def _issue(self, identity: Identity, scopes: frozenset[str], lifetime_s: int) -> IssuedToken:
        key = self.keys.signing_key()
        now = self._clock()
        # Never before the identity's not-before, or a token minted in the revocation's
        # millisecond would be refused (see IdentityStore.revoke_tokens).
        issued_at_ms = max(int(now * 1000), identity.tokens_valid_from_ms)
        expires_at = int(now) + lifetime_s
        claims = Claims(key.kid, bytes.fromhex(identity.id), to_mask(scopes), issued_at_ms, expires_at)
        token = encode(claims, key.secret)
        self._log.info("auth.token_issued", identity_id=identity.id, scopes=format_scopes(scopes),
                 expires_at=expires_at, kid=key.kid)
        return IssuedToken(token, identity.id, scopes, expires_at, lifetime_s)
