"""The redaction rules, one row per identifier shape and per field-name rule."""

from __future__ import annotations

import pytest

from server.observability.redact import redact_processor, redact_text, redact_value, truncate_ip

RAW_UID2 = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
TOKEN = "AgAAAAN6QZRECm5bE4rqqWmhEwdIcomvPRXhMpCTrVGdZUEcmgxJWaY+kqBCGpd8nrQQo8xzeKkLD9NI" \
        "0kmCGCgoMcr5MajnT/I4RjcZb7DZEW7L4r+ss0kzQH0lXA7U3mPNmfXVzxFODMr5mn3rTtuXeJBVq5f3rxg="
EMAIL_SHA256 = "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"


@pytest.mark.parametrize(("text", "secret", "expected"), [
    pytest.param(f"user {RAW_UID2} matched", RAW_UID2, "user [b64] matched", id="raw-uid2"),
    pytest.param(f"token {TOKEN}", TOKEN, "token [b64]", id="uid2-token"),
    pytest.param("mail jane.doe+ads@example.co.uk now", "jane.doe", "mail [email] now", id="email"),
    pytest.param("Authorization: Bearer abc.DEF-123", "abc.DEF", "Authorization: [redacted] [redacted]",
                 id="bearer-header"),
    pytest.param("got bearer eyJhbGciOi.x.y", "eyJhbGciOi", "got bearer [redacted]", id="bearer"),
    pytest.param("client_secret=hunter2&x=1", "hunter2", "client_secret=[redacted]&x=1", id="kv-secret"),
    pytest.param('{"api_key": "k-123"}', "k-123", '{"api_key": "[redacted]"}', id="json-api-key"),
    pytest.param("ifa aebe52e7-03ee-455a-b3c4-e57283966239", "aebe52e7", "ifa [device-id]", id="ifa-uuid"),
    pytest.param(f"hash {EMAIL_SHA256}", EMAIL_SHA256, "hash [hash]", id="sha256-dii"),
    pytest.param("call +1 415 555 0123 today", "555 0123", "call [phone] today", id="phone"),
    pytest.param("from 203.0.113.77 via 10.0.0.1", "113.77", "from 203.0.113.0/24 via 10.0.0.0/24",
                 id="ipv4"),
    pytest.param("from 2001:db8:85a3:1234:5678:8a2e:370:7334", "8a2e", "from 2001:db8:85a3::/48", id="ipv6"),
    pytest.param("[::ffff:198.51.100.9]", "100.9", None, id="ipv4-mapped"),
    pytest.param("net 198.51.100.9/32 and 198.51.100.0/24", "100.9",
                 "net 198.51.100.0/24 and 198.51.100.0/24",
                 id="ipv4-host-route"),
    pytest.param("2001:db8:1:2::5/128", "2::5", "2001:db8:1::/48", id="ipv6-host-route"),
])
def test_redact_text(text: str, secret: str, expected: str | None) -> None:
    out = redact_text(text)
    assert secret not in out
    if expected is not None:
        assert out == expected


@pytest.mark.parametrize("text", [
    pytest.param("snapshot v12 published at /var/lib/segments/store/snapshot-000012.sqlite", id="path"),
    pytest.param("uid2 keys refreshed: 12 keys, newest expiry 1767225600", id="numbers"),
    pytest.param("2026-11-01T12:30:45.123Z request done in 1.25 ms", id="timestamp"),
    pytest.param("mirror_flush_failed intents=12 segment_ids=[sports, football]", id="plain-words"),
])
def test_ordinary_text_survives(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(("key", "value", "expected"), [
    pytest.param("token", "anything", "[redacted]", id="token-key"),
    pytest.param("client_secret", 12345, "[redacted]", id="secret-non-string"),
    pytest.param("advertising_token", "short", "[redacted]", id="suffix-token"),
    pytest.param("user_email", "a@b.c", "[redacted]", id="suffix-email"),
    pytest.param("uid2", "x", "[redacted]", id="uid2-key"),
    pytest.param("ip", "203.0.113.77", "203.0.113.0/24", id="ip-key"),
    pytest.param("client_ip", "2001:db8:1:2::5", "2001:db8:1::/48", id="ip-suffix-v6"),
    pytest.param("client", "testclient", "testclient", id="not-an-ip"),
    pytest.param("token", None, None, id="none-stays-none"),
    pytest.param("count", 3, 3, id="number"),
    pytest.param("detail", {"email": "a@b.co", "n": 1}, {"email": "[redacted]", "n": 1}, id="nested-dict"),
    pytest.param("ids", [RAW_UID2, "ok"], ["[b64]", "ok"], id="list"),
    pytest.param("raw", RAW_UID2.encode(), "[b64]", id="bytes"),
])
def test_redact_value(key: str, value: object, expected: object) -> None:
    assert redact_value(key, value) == expected


def test_processor_scrubs_event_and_fields() -> None:
    event = {"event": f"failed for jane@example.com with {RAW_UID2}", "level": "info", "ts": "t",
             "headers": {"Authorization": "Bearer abc"}, "client": "203.0.113.77"}
    out = redact_processor(None, "info", event)
    assert out == {"event": "failed for [email] with [b64]", "level": "info", "ts": "t",
                   "headers": {"Authorization": "[redacted]"}, "client": "203.0.113.0/24"}


@pytest.mark.parametrize(("ip", "expected"), [
    ("198.51.100.200", "198.51.100.0/24"),
    ("2a00:1450:4001:80b::200e", "2a00:1450:4001::/48"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("[2001:db8::1]", "2001:db8::/48"),
    ("203.0.113.0/24", "203.0.113.0/24"),
    ("203.0.113.9/32", "203.0.113.0/24"),
    ("10.0.0.0/8", "10.0.0.0/8"),
])
def test_truncate_ip(ip: str, expected: str) -> None:
    assert truncate_ip(ip) == expected


@pytest.mark.parametrize("text", [
    pytest.param("Uvicorn running on http://127.0.0.1:8080", id="loopback-v4"),
    pytest.param("bound to [::1]:8080", id="loopback-v6"),
    pytest.param("listening on 0.0.0.0:8080", id="unspecified"),
])
def test_own_bind_addresses_are_not_truncated(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize("key", ["path", "file", "note", "snapshot_path", "auth_file"])
def test_our_file_paths_are_named_but_secrets_in_them_are_not(key: str) -> None:
    path = "/var/lib/segment-server/data/store/snap-00000002.sqlite"
    assert redact_value(key, f"WARNING snapshot {path} is damaged") == f"WARNING snapshot {path} is damaged"
    assert redact_value(key, "token=abc123SECRET in /x") == "token=[redacted] in /x"
    assert redact_value("detail", path) != path  # elsewhere a long mixed run is still scrubbed
