"""Guard.check: every way a request can be refused, with RFC 6750 challenge shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.auth import AuthSettings, Guard, IdentityService, RevocationView
from server.metrics import AUTH_FAILURES

from .conftest import FakeClock


def _failures(reason: str) -> float:
    return AUTH_FAILURES.labels(reason=reason)._value.get()


@pytest.fixture
def rtd_token(service: IdentityService) -> str:
    identity, _ = service.create_identity("rtd-caller", ["rtd"])
    return service.get_token(identity.id, lifetime_s=3600).token


def test_valid_token_passes(guard: Guard, rtd_token: str) -> None:
    assert guard.check(f"Bearer {rtd_token}", "rtd") is None
    assert guard.check(f"bearer   {rtd_token} ", "rtd") is None  # scheme is case-insensitive
    claims = guard.authenticate(f"Bearer {rtd_token}", "rtd")
    assert not hasattr(claims, "status") and claims.scope_mask == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("header", "reason", "challenge"),
    [
        pytest.param(None, "missing", 'Bearer realm="segment-server"', id="missing"),
        pytest.param("", "missing", 'Bearer realm="segment-server"', id="empty"),
        pytest.param("Basic dXNlcjpwYXNz", "wrong_scheme", 'Bearer realm="segment-server"', id="basic"),
        pytest.param("Bearer", "wrong_scheme", 'Bearer realm="segment-server"', id="bearer-no-token"),
        pytest.param("Bearer nope", "malformed",
                     'Bearer realm="segment-server", error="invalid_token", '
                     'error_description="invalid token"',
                     id="garbage"),
    ],
)
def test_refused_headers(guard: Guard, header: str | None, reason: str, challenge: str) -> None:
    before = _failures(reason)
    denial = guard.check(header, "rtd")
    assert denial is not None and denial.status == 401 and denial.reason == reason
    assert denial.headers["WWW-Authenticate"] == challenge
    assert _failures(reason) == before + 1


def _tamper(token: str, index: int) -> str:
    c = token[index]
    return token[:index] + ("B" if c != "B" else "C") + token[index + 1 :]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(lambda t: _tamper(t, 40), "bad_signature", id="tampered-claims"),
        pytest.param(lambda t: _tamper(t, 80), "bad_signature", id="tampered-mac"),
        pytest.param(lambda t: t[:-1], "malformed", id="truncated"),
    ],
)
def test_tampered_tokens(guard: Guard, rtd_token: str, mutate: object, reason: str) -> None:
    denial = guard.check(f"Bearer {mutate(rtd_token)}", "rtd")  # type: ignore[operator]
    assert denial is not None and denial.status == 401 and denial.error == "invalid_token"
    assert denial.reason == reason


def test_wrong_key_token_refused(guard: Guard, tmp_path: Path, clock: FakeClock,
                                 settings: AuthSettings) -> None:
    other = IdentityService(tmp_path / "other", settings, clock=clock)  # different data dir = different keys
    identity, _ = other.create_identity("x", ["rtd"])
    token = other.get_token(identity.id).token
    denial = guard.check(f"Bearer {token}", "rtd")
    assert denial is not None and denial.error == "invalid_token"
    assert denial.reason in {"bad_signature", "unknown_key"}


def test_expired_token(guard: Guard, rtd_token: str, clock: FakeClock) -> None:
    clock.advance(3599)
    assert guard.check(f"Bearer {rtd_token}", "rtd") is None
    clock.advance(1)
    denial = guard.check(f"Bearer {rtd_token}", "rtd")
    assert denial is not None and denial.reason == "expired"
    assert 'error_description="token expired"' in denial.headers["WWW-Authenticate"]


@pytest.mark.parametrize("operation", ["revoke_tokens", "delete_identity"])
def test_revoked_and_deleted(service: IdentityService, guard: Guard, clock: FakeClock,
                             operation: str) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    token = service.get_token(identity.id).token
    assert guard.check(f"Bearer {token}", "rtd") is None
    getattr(service, operation)(identity.id)
    assert guard.check(f"Bearer {token}", "rtd") is None  # view not refreshed yet: ≤ refresh interval stale
    clock.advance(0.5)
    denial = guard.check(f"Bearer {token}", "rtd")
    assert denial is not None and denial.reason == "revoked" and denial.status == 401
    if operation == "revoke_tokens":
        fresh = service.get_token(identity.id).token
        assert guard.check(f"Bearer {fresh}", "rtd") is None


@pytest.mark.parametrize(
    ("identity_scopes", "needed", "allowed"),
    [
        pytest.param(["rtd"], "segments", False, id="rtd-token-on-segments"),
        pytest.param(["rtd"], "admin", False, id="rtd-token-on-admin"),
        pytest.param(["segments"], "rtd", False, id="segments-token-on-rtd"),
        pytest.param(["rtd", "segments"], "segments", True, id="multi-scope"),
        pytest.param(["admin"], "rtd", False, id="admin-is-not-superuser"),
    ],
)
def test_scope(service: IdentityService, guard: Guard, identity_scopes: list[str], needed: str,
               allowed: bool) -> None:
    identity, _ = service.create_identity("x", identity_scopes)
    token = service.get_token(identity.id).token
    denial = guard.check(f"Bearer {token}", needed)
    if allowed:
        assert denial is None
    else:
        assert denial is not None and denial.status == 403 and denial.error == "insufficient_scope"
        assert denial.headers["WWW-Authenticate"].endswith(f'scope="{needed}"')


def test_unknown_scope_is_a_bug(guard: Guard, rtd_token: str) -> None:
    with pytest.raises(ValueError):
        guard.check(f"Bearer {rtd_token}", "root")


def test_disabled_endpoint_lets_everyone_through(view: RevocationView, clock: FakeClock) -> None:
    guard = Guard(view, AuthSettings(rtd_enabled=False), clock=clock)
    assert guard.check(None, "rtd") is None and not guard.enabled("rtd")
    assert guard.check(None, "segments") is not None and guard.enabled("segments")


def test_denial_response(guard: Guard) -> None:
    denial = guard.check("Bearer nope", "rtd")
    assert denial is not None
    response = denial.response()
    assert response.status_code == 401 and response.headers["cache-control"] == "no-store"
    assert response.body == b'{"error":"invalid_token","error_description":"invalid token"}'


def test_remembered_token_forgotten_when_its_key_goes(service: IdentityService, guard: Guard, data_dir: Path,
                                                       clock: FakeClock, rtd_token: str) -> None:
    """Good tokens are verified once per key set; a key deleted from the database ends that."""
    from server.auth import db

    assert guard.check(f"Bearer {rtd_token}", "rtd") is None  # verified and remembered
    with db.write_tx(db.db_path(data_dir)) as conn:
        conn.execute("DELETE FROM signing_keys")
    clock.advance(0.5)  # the view re-reads keys at its next refresh
    denial = guard.check(f"Bearer {rtd_token}", "rtd")
    assert denial is not None and denial.reason == "unknown_key"


def test_forged_tokens_are_not_remembered(guard: Guard, rtd_token: str) -> None:
    forged = _tamper(rtd_token, 80)
    for _ in range(3):
        denial = guard.check(f"Bearer {forged}", "rtd")
        assert denial is not None and denial.reason == "bad_signature"
    assert forged not in guard._verified and len(guard._verified) <= 1
