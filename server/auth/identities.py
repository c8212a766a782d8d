"""The identity store: who may call us, with which scopes, and their revocation times.

Modelled on the Azure Communication Identity client: create an identity, delete it, and revoke
all of its tokens. An identity is also an OAuth client (``client_id`` = identity id) when it was
created with a client secret; the secret is returned once by :meth:`IdentityStore.create` and
only its scrypt hash is kept.

Revocation is a per-identity *not before* time in milliseconds: a token whose issued-at is
earlier is refused. Deleting an identity sets not-before to "forever" and keeps that row until
every token it could have had has expired, so the hot path never needs the identity row itself.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from server.auth import client_secrets, db
from server.auth.errors import IdentityNotFound, InvalidRequest, InvalidScope
from server.auth.scopes import format_scopes, parse_scopes
from server.auth.settings import MAX_LIFETIME_S
from server.auth.types import Clock

#: not_before for a deleted identity: later than any token's issued-at can ever be.
DELETED_NOT_BEFORE_MS: Final = 2**62
#: Revocation rows older than this protect nothing (every earlier token has expired).
PRUNE_AFTER_MS: Final = (MAX_LIFETIME_S + 300) * 1000
MAX_DISPLAY_NAME: Final = 200
_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
# Verified against when a client id is unknown, so a miss costs as much as a hit (no oracle).
_DUMMY_HASH: Final = client_secrets.hash_secret("dummy", 2**10)


@dataclass(frozen=True, slots=True)
class Identity:
    """One caller. ``tokens_valid_from_ms`` is the revoke-all time (0 if never revoked)."""

    id: str
    display_name: str
    scopes: frozenset[str]
    created_ms: int
    has_secret: bool
    tokens_valid_from_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        """The admin API / CLI representation (never includes the secret hash)."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "scopes": sorted(self.scopes),
            "created_at": self.created_ms / 1000,
            "has_client_secret": self.has_secret,
            "tokens_valid_from": self.tokens_valid_from_ms / 1000 if self.tokens_valid_from_ms else None,
        }


def is_identity_id(value: str) -> bool:
    """Whether ``value`` is shaped like an identity id (32 lowercase hex chars)."""
    return _ID_RE.fullmatch(value) is not None


class IdentityStore:
    """SQLite-backed identities in ``data_dir``; safe to use from several processes at once."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, clock: Clock = time.time, scrypt_n: int = 2**15
    ) -> None:
        self.path = db.db_path(data_dir)
        self._clock = clock
        self._scrypt_n = scrypt_n
        db.ensure_database(self.path)  # create it now, or refuse a damaged one by name

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def create(
        self, display_name: str, scopes: Iterable[str], *, with_secret: bool = True
    ) -> tuple[Identity, str | None]:
        """Create an identity; returns it and its client secret (shown this once), if any."""
        if not isinstance(display_name, str) or not display_name.strip():
            raise InvalidRequest("display_name must be a non-empty string")
        if len(display_name) > MAX_DISPLAY_NAME:
            raise InvalidRequest(f"display_name must be at most {MAX_DISPLAY_NAME} characters")
        allowed = parse_scopes(scopes)
        if not allowed:
            raise InvalidScope("an identity needs at least one scope")
        secret = client_secrets.new_secret() if with_secret else None
        secret_hash = client_secrets.hash_secret(secret, self._scrypt_n) if secret else None
        identity = Identity(uuid.uuid4().hex, display_name.strip(), allowed, self._now_ms(),
                            secret is not None)
        with db.write_tx(self.path) as conn:
            conn.execute(
                "INSERT INTO identities (id, display_name, scopes, created_ms, secret_hash)"
                " VALUES (?,?,?,?,?)",
                (identity.id, identity.display_name, format_scopes(allowed), identity.created_ms,
                 secret_hash),
            )
        return identity, secret

    def get(self, identity_id: str) -> Identity:
        """The identity, with its revoke-all time; raises :class:`IdentityNotFound`."""
        if not is_identity_id(identity_id):
            raise IdentityNotFound(identity_id)
        with db.read_conn(self.path) as conn:
            row = conn.execute(_SELECT + " WHERE i.id = ?", (identity_id,)).fetchone()
        if row is None:
            raise IdentityNotFound(identity_id)
        return _row_to_identity(row)

    def list(self) -> list[Identity]:
        """Every identity, oldest first."""
        with db.read_conn(self.path) as conn:
            rows = conn.execute(_SELECT + " ORDER BY i.created_ms, i.rowid").fetchall()
        return [_row_to_identity(row) for row in rows]

    def delete(self, identity_id: str) -> None:
        """Delete the identity; its tokens stop working within the revocation refresh interval."""
        if not is_identity_id(identity_id):
            raise IdentityNotFound(identity_id)
        now = self._now_ms()
        with db.write_tx(self.path) as conn:
            if conn.execute("DELETE FROM identities WHERE id = ?", (identity_id,)).rowcount == 0:
                raise IdentityNotFound(identity_id)
            _set_not_before(conn, identity_id, DELETED_NOT_BEFORE_MS, now, deleted=True)

    def revoke_tokens(self, identity_id: str) -> int:
        """Revoke every token issued so far to ``identity_id``; returns the new not-before (ms).

        Not-before is *now + 1 ms* and new tokens are issued at or after it (see
        :meth:`TokenService.issue`), so a token minted in the same millisecond as the revocation
        is unambiguously either before (refused) or after (valid).
        """
        if not is_identity_id(identity_id):
            raise IdentityNotFound(identity_id)
        now = self._now_ms()
        with db.write_tx(self.path) as conn:
            if conn.execute("SELECT 1 FROM identities WHERE id = ?", (identity_id,)).fetchone() is None:
                raise IdentityNotFound(identity_id)
            _set_not_before(conn, identity_id, now + 1, now, deleted=False)
        return now + 1

    def authenticate(self, client_id: str, secret: str) -> Identity | None:
        """The identity if ``secret`` is its client secret, else ``None``. Slow (scrypt) by design.

        An unknown client id or an identity without a secret costs the same as a wrong secret, so
        response timing does not reveal which client ids exist.
        """
        row = None
        if is_identity_id(client_id):
            with db.read_conn(self.path) as conn:
                row = conn.execute(_SELECT + " WHERE i.id = ?", (client_id,)).fetchone()
        stored = row[5] if row is not None and row[5] else None
        ok = client_secrets.verify_secret(secret, stored or _DUMMY_HASH)
        if row is None or stored is None or not ok:
            return None
        return _row_to_identity(row)


_SELECT: Final = (
    "SELECT i.id, i.display_name, i.scopes, i.created_ms, r.not_before_ms, i.secret_hash "
    "FROM identities i LEFT JOIN revocations r ON r.identity_id = i.id"
)


def _row_to_identity(row: tuple[Any, ...]) -> Identity:
    identity_id, name, scopes, created_ms, not_before_ms, secret_hash = row
    return Identity(
        id=identity_id,
        display_name=name,
        scopes=frozenset(scopes.split()),
        created_ms=created_ms,
        has_secret=secret_hash is not None,
        tokens_valid_from_ms=not_before_ms or 0,
    )


def _set_not_before(conn: sqlite3.Connection, identity_id: str, not_before_ms: int, now_ms: int, *,
                    deleted: bool) -> None:
    conn.execute(
        "INSERT INTO revocations (identity_id, not_before_ms, revoked_ms, deleted) VALUES (?,?,?,?) "
        "ON CONFLICT(identity_id) DO UPDATE SET not_before_ms = excluded.not_before_ms, "
        "revoked_ms = excluded.revoked_ms, deleted = excluded.deleted",
        (identity_id, not_before_ms, now_ms, int(deleted)),
    )
    conn.execute("DELETE FROM revocations WHERE revoked_ms < ?", (now_ms - PRUNE_AFTER_MS,))
