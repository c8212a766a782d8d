"""Token signing keys: created in the auth database, rotated on a schedule, shared by all workers.

Rotation without refusing good tokens:

* A new key is written ``ACTIVATION_DELAY_MS`` *before* it starts signing, which is longer than
  the revocation refresh interval, so every worker already has it when the first token signed
  with it arrives.
* The previous key is marked retired at that moment and keeps verifying; tokens it signed expire
  at most 24 h later, after which the row is pruned. There is no separate "accept until" check on
  the hot path: a token's own expiry bounds how long an old key matters.
* The very first key (empty database) signs immediately; call :meth:`KeyStore.ensure_key` in the
  lifespan before serving so workers load it at their first refresh.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Final

from server.auth import db
from server.auth.settings import MAX_LIFETIME_S
from server.auth.tokens import MacKey
from server.auth.types import Clock

ACTIVATION_DELAY_MS: Final = 2000
KEY_BYTES: Final = 32
PRUNE_MARGIN_MS: Final = 300_000


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An HMAC-SHA256 key and its id (the id travels in every token)."""

    kid: int
    secret: bytes

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey(kid={self.kid})"


class KeyStore:
    """Signing-key lifecycle over the auth database in ``data_dir``."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, clock: Clock = time.time, rotation_s: int = 7 * 24 * 3600
    ) -> None:
        self.path = db.db_path(data_dir)
        db.ensure_database(self.path)
        self._clock = clock
        self._rotation_ms = rotation_s * 1000

    def signing_key(self) -> SigningKey:
        """The key to sign with now, rotating first if the newest key is older than the period."""
        now = int(self._clock() * 1000)
        with db.read_conn(self.path) as conn:
            newest_created = _newest_created(conn)
            active = _active_key(conn, now)
        if active is not None and newest_created is not None and now - newest_created < self._rotation_ms:
            return active
        with db.write_tx(self.path) as conn:  # re-check under the write lock: another worker may have won
            # Read the clock again under the lock: a key another process made while we waited may be
            # newer than our first reading, and would not look active at that earlier instant.
            now = int(self._clock() * 1000)
            newest_created = _newest_created(conn)
            if newest_created is None:
                _insert_key(conn, now, active_from=now)
            elif now - newest_created >= self._rotation_ms:
                _insert_key(conn, now, active_from=now + ACTIVATION_DELAY_MS)
            active = _active_key(conn, now)
        assert active is not None  # a key active now exists after the insert above
        return active

    def ensure_key(self) -> None:
        """Make sure a signing key exists (and rotate if due). Call once at startup."""
        self.signing_key()

    def rotate(self) -> int:
        """Create a new key now (signing after the activation delay); returns its kid."""
        now = int(self._clock() * 1000)
        with db.write_tx(self.path) as conn:
            return _insert_key(conn, now, active_from=now + ACTIVATION_DELAY_MS)

    def key_state(self) -> list[dict[str, object]]:
        """Key ids and timestamps for ``/admin/status`` (never the key material)."""
        with db.read_conn(self.path) as conn:
            rows = conn.execute(
                "SELECT kid, created_ms, active_from_ms, retired_ms FROM signing_keys ORDER BY kid"
            ).fetchall()
        return [
            {"kid": kid, "created_at": c / 1000, "active_from": a / 1000,
             "retired_at": r / 1000 if r else None}
            for kid, c, a, r in rows
        ]


def load_verification_keys(conn: sqlite3.Connection) -> dict[int, MacKey]:
    """Every key that may still have live tokens (retired keys are pruned once theirs expire)."""
    rows = conn.execute("SELECT kid, secret FROM signing_keys")
    return {kid: MacKey(bytes(secret)) for kid, secret in rows}


def _newest_created(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MAX(created_ms) FROM signing_keys").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _active_key(conn: sqlite3.Connection, now_ms: int) -> SigningKey | None:
    row = conn.execute(
        "SELECT kid, secret FROM signing_keys WHERE active_from_ms <= ?"
        " ORDER BY active_from_ms DESC, kid DESC",
        (now_ms,),
    ).fetchone()
    return None if row is None else SigningKey(int(row[0]), bytes(row[1]))


def _insert_key(conn: sqlite3.Connection, now_ms: int, *, active_from: int) -> int:
    row = conn.execute("SELECT COALESCE(MAX(kid), 0) + 1 FROM signing_keys").fetchone()
    kid = int(row[0])
    conn.execute("UPDATE signing_keys SET retired_ms = ? WHERE retired_ms IS NULL", (active_from,))
    conn.execute(
        "INSERT INTO signing_keys (kid, secret, created_ms, active_from_ms) VALUES (?,?,?,?)",
        (kid, secrets.token_bytes(KEY_BYTES), now_ms, active_from),
    )
    cutoff = now_ms - MAX_LIFETIME_S * 1000 - PRUNE_MARGIN_MS
    conn.execute("DELETE FROM signing_keys WHERE retired_ms IS NOT NULL AND retired_ms < ?", (cutoff,))
    return kid
