"""Scrub log records: no raw UID2/EUID, token, DII (email, phone, hashes, device ids), full IP or secret.

Two passes, because neither alone is enough:

* **by key** — a field whose name says what it holds (``token``, ``secret``, ``email``, ``uid2`` …)
  is replaced whole, whatever it looks like; ``ip``-like fields keep a truncated network
  (IPv4 /24, IPv6 /48), which is what ops need to spot a misbehaving network.
* **by shape** — every string (the message, exception text, values under innocent names) is
  searched for e-mails, bearer credentials, ``key=value`` secrets, UUIDs (IFAs), long hex
  (hashed DII), long base64 runs with mixed case and digits (UID2 raw ids, tokens, keys), phone
  numbers and IP addresses.

It errs toward over-redaction: a mangled log line is a nuisance, a leaked identifier is an incident.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

#: Field names (lower-cased, ``-`` → ``_``) whose values are dropped whole.
SECRET_KEYS = frozenset({
    "token", "tokens", "access_token", "refresh_token", "id_token", "uid2_token", "euid_token",
    "advertising_token", "secret", "client_secret", "secret_key", "api_key", "apikey", "password",
    "passwd", "authorization", "auth", "cookie", "set_cookie", "signature", "key_secret", "private_key",
    "uid", "uid2", "euid", "raw_uid", "raw_uid2", "advertising_id", "ifa", "idfa", "aaid", "device_id",
    "user_id", "buyeruid", "email", "email_hash", "phone", "phone_hash", "dii", "consent", "gpp", "body",
})
#: Field names holding an IP address: kept as a truncated network.
IP_KEYS = frozenset({"ip", "ipv6", "client", "client_ip", "remote_addr", "remote_ip", "peer",
                     "x_forwarded_for"})

#: Field names holding our own file paths, or an operator note naming them (a damaged snapshot, a
#: removed temp file): the file must be named, and a long path is not an identifier, so only the
#: pattern pass runs on them, not the base64-run or IP passes.
PATH_KEYS = frozenset({"path", "file", "note"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b([\w-]*(?:secret|token|password|passwd|api[_-]?key|authorization|signature))"
                r"([\"']?\s*[:=]\s*[\"']?)[^\s&,;\"'}]+"), r"\1\2[redacted]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"),
     "[device-id]"),
    (re.compile(r"\b[0-9A-Fa-f]{32,}\b"), "[hash]"),
    (re.compile(r"\+\d[\d ().-]{7,}\d"), "[phone]"),
)
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:/(\d{1,3}))?(?![\w:])")


def _network(address: str, prefix: str | None) -> str | None:
    """The address's /24 (IPv4) or /48 (IPv6), or a shorter prefix it already had; None if not an IP."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback or addr.is_unspecified:  # our own bind addresses, never a user's
        return str(addr) if prefix is None else f"{addr}/{prefix}"
    cap = 24 if addr.version == 4 else 48
    bits = min(cap, int(prefix)) if prefix is not None and prefix.isdigit() else cap
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def truncate_ip(value: str) -> str:
    """IPv4 → ``a.b.c.0/24``, IPv6 → its /48 (idempotent); anything else is redacted by shape."""
    address, _, prefix = value.strip().strip("[]").partition("/")
    net = _network(address.strip("[]"), prefix or None)
    if net is not None:
        return net
    return redact_text(value) if value else value


def _b64(match: re.Match[str]) -> str:
    run = match.group(0)
    has_upper = any(c.isupper() for c in run)
    has_lower = any(c.islower() for c in run)
    has_digit = any(c.isdigit() for c in run)
    # Random base64 (ids, tokens, keys) mixes all three; paths, words and snake_case names don't.
    if (has_digit and has_upper and has_lower) or (len(run) >= 40 and has_digit and (has_upper or has_lower)):
        return "[b64]"
    return run


def _ipv4(match: re.Match[str]) -> str:
    net = _network(".".join(match.groups()[:4]), match.group(5))
    return match.group(0) if net is None else net


def _ipv6(match: re.Match[str]) -> str:
    text = match.group(0)
    address = text.partition("/")[0]
    if ":" not in address:
        return text
    net = _network(address, match.group(1))
    return text if net is None else net


def _redact_patterns(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_text(text: str) -> str:
    """Every identifier-shaped substring of ``text`` replaced (see the module docstring)."""
    text = _B64_RUN.sub(_b64, _redact_patterns(text))
    text = _IPV4.sub(_ipv4, text)
    if text.count(":") >= 2:
        text = _IPV6.sub(_ipv6, text)
    return text


def _norm(key: object) -> str:
    return str(key).lower().replace("-", "_")


def redact_value(key: object, value: Any) -> Any:
    """One field, by its name first and then by shape; containers are walked."""
    name = _norm(key)
    if name in SECRET_KEYS or name.endswith(("_token", "_secret", "_password", "_email", "_uid")):
        return None if value is None else REDACTED
    if name in IP_KEYS or name.endswith("_ip"):
        return truncate_ip(value) if isinstance(value, str) else (None if value is None else REDACTED)
    if isinstance(value, str) and (name in PATH_KEYS or name.endswith(("_path", "_file"))):
        return _redact_patterns(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(key, v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


#: Keys structlog itself owns; their values are safe by construction and skipped for speed.
_TRUSTED = frozenset({"level", "ts", "timestamp", "logger", "pid", "status", "duration_ms", "method",
                      "sampled"})


def redact_processor(logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: runs last before rendering, so nothing added earlier escapes it."""
    for key in list(event_dict):
        if key in _TRUSTED or key.startswith("_"):
            continue
        event_dict[key] = redact_value(key, event_dict[key])
    return event_dict
