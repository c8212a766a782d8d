from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import REFERENCE_NOW, VECTORS

from server.uid2 import IdentityScope, KeyParseError, parse_key_response
from server.uid2.keys import DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_TOKEN_EXPIRY_SECONDS

SHARING = VECTORS["key_sets"]["sharing"]
BIDSTREAM = VECTORS["key_sets"]["bidstream"]


def _with(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    doc["body"].update(changes)
    return doc


@pytest.mark.parametrize(
    ("document", "attribute", "expected"),
    [
        pytest.param(SHARING, "token_expiry_seconds", 2592000, id="expiry-as-string"),
        pytest.param(
            _with(SHARING, token_expiry_seconds=86400), "token_expiry_seconds", 86400, id="expiry-as-int"
        ),
        pytest.param(
            _with(SHARING, token_expiry_seconds=0),
            "token_expiry_seconds",
            DEFAULT_TOKEN_EXPIRY_SECONDS,
            id="expiry-zero-means-30-days",
        ),
        pytest.param(BIDSTREAM, "token_expiry_seconds", DEFAULT_TOKEN_EXPIRY_SECONDS, id="expiry-absent"),
        pytest.param(BIDSTREAM, "max_bidstream_lifetime_seconds", 259210, id="bidstream-lifetime"),
        pytest.param(BIDSTREAM, "max_sharing_lifetime_seconds", None, id="sharing-lifetime-absent-unlimited"),
        pytest.param(
            _with(BIDSTREAM, allow_clock_skew_seconds=None),
            "allow_clock_skew_seconds",
            DEFAULT_CLOCK_SKEW_SECONDS,
            id="skew-default",
        ),
        pytest.param(
            _with(BIDSTREAM, identity_scope="EUID"), "identity_scope", IdentityScope.EUID, id="euid"
        ),
        pytest.param(SHARING, "master_keyset_id", 9999999, id="master-keyset"),
        pytest.param(SHARING["body"], "caller_site_id", 9000, id="body-only"),
        pytest.param(
            _with(BIDSTREAM, unexpected_field={"x": [1]}, unexpected_int=5),
            "caller_site_id",
            None,
            id="unknown-fields-ignored",
        ),
    ],
)
def test_parse_fields(document: Any, attribute: str, expected: Any) -> None:
    assert getattr(parse_key_response(document), attribute) == expected


def test_site_data_is_lower_cased_and_checked_case_insensitively() -> None:
    doc = _with(BIDSTREAM, site_data=[{"id": 7, "domain_names": ["Example.COM"], "extra": 1}])
    keys = parse_key_response(doc)
    assert keys.domain_allowed(7, "EXAMPLE.com")
    assert not keys.domain_allowed(7, None)
    assert not keys.domain_allowed(8, "example.com")


def test_legacy_list_body() -> None:
    keys = parse_key_response(
        {"body": [{**k, "site_id": 5} for k in BIDSTREAM["body"]["keys"]], "status": "success"}
    )
    assert len(keys.keys) == 7 and keys.keys[101].site_id == 5


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"status": "error", "body": {}}, id="status-not-success"),
        pytest.param({"body": {"keys": "nope"}}, id="keys-not-a-list"),
        pytest.param(
            {"body": {"keys": [{"id": 1, "activates": 0, "expires": 1, "secret": "AAAA"}]}}, id="short-secret"
        ),
        pytest.param(
            {"body": {"keys": [{"id": 1, "activates": 0, "expires": 1, "secret": "!!"}]}},
            id="secret-not-base64",
        ),
        pytest.param(
            {"body": {"keys": [{"id": True, "activates": 0, "expires": 1, "secret": "A" * 44}]}}, id="bool-id"
        ),
        pytest.param({"body": {"keys": [], "identity_scope": "MARS"}}, id="unknown-scope"),
        pytest.param(
            {"body": {"keys": [], "site_data": [{"id": 1, "domain_names": "x.com"}]}}, id="names-not-list"
        ),
        pytest.param("garbage", id="not-json-object"),
    ],
)
def test_malformed_documents_raise(document: Any) -> None:
    with pytest.raises(KeyParseError):
        parse_key_response(document)


def test_active_key_sorts_by_activation_and_skips_future_keys() -> None:
    doc = copy.deepcopy(SHARING)
    doc["body"]["keys"].reverse()
    keys = parse_key_response(doc)
    assert keys.active_key(9999999, REFERENCE_NOW).id == 101  # type: ignore[union-attr]
    assert keys.active_key(9999999, REFERENCE_NOW + 2 * 86400).id == 102  # type: ignore[union-attr]
    assert keys.active_key(1000, 0) is None
    assert keys.active_key(None, REFERENCE_NOW) is None


def test_validity_follows_newest_expiry() -> None:
    keys = parse_key_response(BIDSTREAM)
    assert keys.is_valid(REFERENCE_NOW)
    assert not keys.is_valid(keys.newest_expiry)  # type: ignore[arg-type]
    assert not parse_key_response({"body": {"keys": []}}).is_valid(0)


def test_summary_and_repr_hold_no_secret() -> None:
    keys = parse_key_response(SHARING)
    text = repr(keys) + repr(keys.summary())
    assert not any(k["secret"] in text for k in SHARING["body"]["keys"])
    assert keys.summary()["key_count"] == 7
