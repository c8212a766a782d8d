"""The Azure-modelled operations: lifetimes, scope rules, one-call create+token, revoke, delete."""

from __future__ import annotations

import pytest

from server.auth import tokens
from server.auth.errors import IdentityNotFound, InvalidLifetime, InvalidScope
from server.auth.service import IdentityService
from server.auth.tokens import MacKey

from .conftest import FakeClock


def _claims(service: IdentityService, token: str, now: float) -> tokens.Claims:
    key = service.keys.signing_key()
    result = tokens.verify(token, {key.kid: MacKey(key.secret)}, now)
    assert isinstance(result, tokens.Claims)
    return result


def test_default_token_is_24h_with_all_identity_scopes(service: IdentityService, clock: FakeClock) -> None:
    identity, _ = service.create_identity("x", ["rtd", "segments"])
    issued = service.get_token(identity.id)
    assert issued.expires_in == 86400 and issued.expires_at == int(clock.now) + 86400
    assert issued.scopes == {"rtd", "segments"}
    claims = _claims(service, issued.token, clock.now)
    assert claims.identity.hex() == identity.id and claims.scope_mask == 3
    assert issued.token not in repr(issued)


@pytest.mark.parametrize(
    ("lifetime", "ok"),
    [
        pytest.param(3599, False, id="59m59s"),
        pytest.param(3600, True, id="1h"),
        pytest.param(12 * 3600, True, id="12h"),
        pytest.param(86400, True, id="24h"),
        pytest.param(86401, False, id="24h1s"),
        pytest.param(0, False, id="zero"),
        pytest.param(-3600, False, id="negative"),
        pytest.param(3600.0, False, id="float"),
        pytest.param("3600", False, id="string"),
        pytest.param(True, False, id="bool"),
    ],
)
def test_lifetime_bounds(service: IdentityService, lifetime: object, ok: bool) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    if ok:
        assert service.get_token(identity.id, lifetime_s=lifetime).expires_in == lifetime
    else:
        with pytest.raises(InvalidLifetime, match="3600 and 86400 seconds"):
            service.get_token(identity.id, lifetime_s=lifetime)


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        pytest.param(["admin"], InvalidScope, id="escalation"),
        pytest.param(["rtd", "admin"], InvalidScope, id="partial-escalation"),
        pytest.param("root", InvalidScope, id="unknown"),
        pytest.param([], InvalidScope, id="empty"),
    ],
)
def test_token_scopes_never_exceed_identity(service: IdentityService, requested: object, error: type) -> None:
    identity, _ = service.create_identity("x", ["rtd", "segments"])
    with pytest.raises(error):
        service.get_token(identity.id, requested)  # type: ignore[arg-type]


def test_narrower_token(service: IdentityService) -> None:
    identity, _ = service.create_identity("x", ["rtd", "segments"])
    assert service.get_token(identity.id, "segments").scopes == {"segments"}


def test_create_identity_and_token(service: IdentityService) -> None:
    identity, secret, issued = service.create_identity_and_token("x", ["rtd"], lifetime_s=3600)
    assert secret is None and issued.identity_id == identity.id and issued.expires_in == 3600


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"lifetime_s": 10}, InvalidLifetime, id="bad-lifetime"),
        pytest.param({"token_scopes": ["admin"]}, InvalidScope, id="escalation"),
    ],
)
def test_create_identity_and_token_validates_before_creating(
    service: IdentityService, kwargs: dict[str, object], error: type
) -> None:
    with pytest.raises(error):
        service.create_identity_and_token("x", ["rtd"], **kwargs)  # type: ignore[arg-type]
    assert service.list_identities() == []


def test_token_issued_right_after_revoke_is_valid(service: IdentityService, clock: FakeClock) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    old = service.get_token(identity.id)
    not_before = service.revoke_tokens(identity.id)
    new = service.get_token(identity.id)  # same fake millisecond as the revocation
    assert _claims(service, old.token, clock.now).issued_at_ms < not_before
    assert _claims(service, new.token, clock.now).issued_at_ms >= not_before


def test_deleted_identity_gets_no_tokens(service: IdentityService) -> None:
    identity, _ = service.create_identity("x", ["rtd"])
    service.delete_identity(identity.id)
    with pytest.raises(IdentityNotFound):
        service.get_token(identity.id)
    with pytest.raises(IdentityNotFound):
        service.delete_identity(identity.id)
