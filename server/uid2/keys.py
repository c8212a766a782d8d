"""Key sets: parsing the operator's ``/v2/key/*`` JSON into an immutable snapshot.

A ``KeySet`` is built once per refresh and never mutated, so the refresher can swap it in with a
single assignment and the hot path reads it without locks. Building it also builds one ``AESGCM``
object per key id: constructing the cipher is the expensive part of a decrypt, and doing it once
per refresh instead of twice per token is most of why we are 20x faster than uid2-client.

Parsing follows the Java ``KeyParser`` where the SDKs differ: ``token_expiry_seconds`` may be an
int or a string (the operator sends a string), missing or 0 means 30 days; unknown fields are
ignored; ``site_data`` domain names are kept, lower-cased, for the CSTG domain check.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .types import IdentityScope

__all__ = ["Key", "KeyParseError", "KeySet", "parse_key_response"]

DEFAULT_CLOCK_SKEW_SECONDS = 1800
DEFAULT_TOKEN_EXPIRY_SECONDS = 30 * 24 * 3600
SECRET_SIZE = 32


class KeyParseError(ValueError):
    """The key response is malformed; the refresher keeps its last good snapshot."""


@dataclass(frozen=True, slots=True)
class Key:
    id: int
    secret: bytes = field(repr=False)
    created: int  # epoch seconds, as in the key JSON
    activates: int
    expires: int
    keyset_id: int | None = None  # only on /v2/key/sharing keys of our own keysets and master keys
    site_id: int | None = None  # only in the legacy /v2/key/latest list form

    def is_active(self, now: float) -> bool:
        return self.activates <= now < self.expires


@dataclass(frozen=True, slots=True, eq=False)
class KeySet:
    """One immutable snapshot of the keys for one identity scope."""

    keys: Mapping[int, Key]
    identity_scope: IdentityScope = IdentityScope.UID2
    max_bidstream_lifetime_seconds: int | None = None  # None: unlimited
    max_sharing_lifetime_seconds: int | None = None
    allow_clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS
    caller_site_id: int | None = None
    master_keyset_id: int | None = None
    default_keyset_id: int | None = None
    token_expiry_seconds: int = DEFAULT_TOKEN_EXPIRY_SECONDS
    site_domains: Mapping[int, frozenset[str]] = field(default_factory=dict)
    aead: Mapping[int, AESGCM] = field(init=False, repr=False)
    newest_expiry: int | None = field(init=False)
    _by_keyset: Mapping[int, tuple[Key, ...]] = field(init=False, repr=False)
    #: Told the id when a token names a key this set lacks (the refresher's early-refresh signal).
    missing_key_hook: Callable[[int], None] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        by_keyset: dict[int, list[Key]] = {}
        for key in self.keys.values():
            if key.keyset_id is not None:
                by_keyset.setdefault(key.keyset_id, []).append(key)
        # Sorted by activation, because the JSON order is not promised (Python 2.9.0 assumes it is).
        sorted_sets = {k: tuple(sorted(v, key=lambda key: key.activates)) for k, v in by_keyset.items()}
        object.__setattr__(self, "_by_keyset", sorted_sets)
        object.__setattr__(self, "aead", {kid: AESGCM(k.secret) for kid, k in self.keys.items()})
        newest = max((k.expires for k in self.keys.values()), default=None)
        object.__setattr__(self, "newest_expiry", newest)

    def bind_missing_key_hook(self, hook: Callable[[int], None]) -> KeySet:
        """Set :attr:`missing_key_hook` once, *before* the set is published to readers; returns self."""
        object.__setattr__(self, "missing_key_hook", hook)
        return self

    def report_missing_key(self, key_id: int) -> None:
        """A token named ``key_id`` and this set lacks it: tell the hook (the decryptor calls this
        only on that miss, so a known key costs nothing extra)."""
        hook = self.missing_key_hook
        if hook is not None:
            hook(key_id)

    def is_valid(self, now: float) -> bool:
        """False means KEYS_NOT_SYNCED: no key in the set expires after ``now``."""
        return self.newest_expiry is not None and self.newest_expiry > now

    def active_key(self, keyset_id: int | None, now: float) -> Key | None:
        """The keyset's key with the latest ``activates <= now`` that has not expired."""
        if keyset_id is None:
            return None
        keys = self._by_keyset.get(keyset_id, ())
        i = bisect.bisect_right([k.activates for k in keys], now)
        while i > 0:
            i -= 1
            if keys[i].is_active(now):
                return keys[i]
        return None

    def domain_allowed(self, site_id: int, domain_or_app_name: str | None) -> bool:
        if not domain_or_app_name:
            return False
        names = self.site_domains.get(site_id)
        return names is not None and domain_or_app_name.lower() in names

    def summary(self) -> dict[str, Any]:
        """What ops may see: ids and times, never a secret."""
        return {
            "identity_scope": self.identity_scope.name,
            "key_count": len(self.keys),
            "newest_expiry": self.newest_expiry,
            "caller_site_id": self.caller_site_id,
            "master_keyset_id": self.master_keyset_id,
            "default_keyset_id": self.default_keyset_id,
            "max_bidstream_lifetime_seconds": self.max_bidstream_lifetime_seconds,
            "max_sharing_lifetime_seconds": self.max_sharing_lifetime_seconds,
            "allow_clock_skew_seconds": self.allow_clock_skew_seconds,
            "site_data_sites": len(self.site_domains),
            "keys": [
                {"id": k.id, "keyset_id": k.keyset_id, "activates": k.activates, "expires": k.expires}
                for k in sorted(self.keys.values(), key=lambda k: k.id)
            ],
        }


def _int(obj: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    """An int field that may arrive as a JSON string (``token_expiry_seconds`` does)."""
    value = obj.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise KeyParseError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise KeyParseError(f"{name}: expected an integer, got {type(value).__name__}")


def _required_int(obj: Mapping[str, Any], name: str) -> int:
    value = _int(obj, name)
    if value is None:
        raise KeyParseError(f"key.{name}: missing")
    return value


def _parse_key(obj: Any) -> Key:
    if not isinstance(obj, Mapping):
        raise KeyParseError("keys[]: expected an object")
    try:
        secret = base64.b64decode(obj["secret"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise KeyParseError(f"key {obj.get('id')!r}: missing or invalid secret") from None
    if len(secret) != SECRET_SIZE:
        raise KeyParseError(f"key {obj.get('id')!r}: secret must be {SECRET_SIZE} bytes")
    return Key(
        id=_required_int(obj, "id"),
        secret=secret,
        created=_int(obj, "created", 0) or 0,
        activates=_required_int(obj, "activates"),
        expires=_required_int(obj, "expires"),
        keyset_id=_int(obj, "keyset_id"),
        site_id=_int(obj, "site_id"),
    )


def _parse_site_data(items: Any) -> dict[int, frozenset[str]]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise KeyParseError("site_data: expected a list")
    sites: dict[int, frozenset[str]] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise KeyParseError("site_data[]: expected an object")
        names = item.get("domain_names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise KeyParseError("site_data[].domain_names: expected a list of strings")
        sites[_required_int(item, "id")] = frozenset(n.lower() for n in names)
    return sites


def _parse_scope(value: Any) -> IdentityScope:
    if value is None:
        return IdentityScope.UID2
    if isinstance(value, str) and value.upper() in IdentityScope.__members__:
        return IdentityScope[value.upper()]
    raise KeyParseError(f"identity_scope: unknown value {value!r}")


def _keys_by_id(items: Any) -> dict[int, Key]:
    if not isinstance(items, list):
        raise KeyParseError("keys: expected a list")
    return {key.id: key for key in map(_parse_key, items)}


def parse_key_response(document: Any) -> KeySet:
    """Parse a decrypted key response: ``{"body": ..., "status": "success"}`` or just its body.

    The body is the ``/v2/key/bidstream`` or ``/v2/key/sharing`` object, or the legacy list of keys.
    """
    if isinstance(document, Mapping) and "body" in document:
        status = document.get("status", "success")
        if status != "success":
            raise KeyParseError(f"status: {status!r}")
        document = document["body"]
    if isinstance(document, list):
        return KeySet(keys=_keys_by_id(document))
    if not isinstance(document, Mapping):
        raise KeyParseError("body: expected an object or a list of keys")
    return KeySet(
        keys=_keys_by_id(document.get("keys")),
        identity_scope=_parse_scope(document.get("identity_scope")),
        max_bidstream_lifetime_seconds=_int(document, "max_bidstream_lifetime_seconds"),
        max_sharing_lifetime_seconds=_int(document, "max_sharing_lifetime_seconds"),
        allow_clock_skew_seconds=_int(document, "allow_clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS) or 0,
        caller_site_id=_int(document, "caller_site_id"),
        master_keyset_id=_int(document, "master_keyset_id"),
        default_keyset_id=_int(document, "default_keyset_id"),
        token_expiry_seconds=_int(document, "token_expiry_seconds") or DEFAULT_TOKEN_EXPIRY_SECONDS,
        site_domains=_parse_site_data(document.get("site_data")),
    )
