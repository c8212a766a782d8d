"""The same scoped bearer tokens as HTTP, in the call metadata: ``authorization: Bearer …``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest

from server.auth import Claims, IdentityService
from server.auth.scopes import to_mask
from server.auth.tokens import encode
from server.config import load_settings
from tests.artf.conftest import Artf, sample, start

AUTH = {"rtd_enabled": True, "segments_enabled": True, "admin_enabled": True, "scrypt_n": 1024,
        "revocation_refresh_s": 0.05}
DAY = 86400


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Artf, dict[str, str]]]:
    for app in start(tmp_path_factory.mktemp("guarded"), auth=AUTH):
        settings = load_settings(env={}, overrides={"auth": AUTH}).auth
        service = IdentityService(app.data_dir, settings)
        index = service.create_identity("index", ["rtd", "segments"], with_secret=False)[0]
        cached_only = service.create_identity("cached", ["segments"], with_secret=False)[0]
        key = service.keys.signing_key()  # an expired token needs a past expiry: minted by hand
        expired = Claims(key.kid, bytes.fromhex(index.id), to_mask(["rtd"]), int((time.time() - DAY) * 1000),
                         int(time.time()) - 60)
        tokens = {
            "good": service.get_token(index.id, ["rtd"]).token,
            "wrong_scope": service.get_token(cached_only.id, ["segments"]).token,
            "expired": encode(expired, key.secret),
        }
        yield app, tokens


@pytest.mark.parametrize(
    ("metadata", "code", "details"),
    [
        pytest.param((), grpc.StatusCode.UNAUTHENTICATED, "", id="missing"),
        pytest.param((("authorization", "Basic aW5kZXg6c2VjcmV0"),), grpc.StatusCode.UNAUTHENTICATED, "",
                     id="wrong-scheme"),
        pytest.param((("authorization", "Bearer ss1_forged"),), grpc.StatusCode.UNAUTHENTICATED, "invalid",
                     id="forged"),
        pytest.param((("authorization", "Bearer {expired}"),), grpc.StatusCode.UNAUTHENTICATED, "expired",
                     id="expired"),
        pytest.param((("authorization", "Bearer {wrong_scope}"),), grpc.StatusCode.PERMISSION_DENIED, "scope",
                     id="wrong-scope"),
        pytest.param((("authorization", "Bearer {good}"),), grpc.StatusCode.OK, "", id="good"),
        pytest.param((("authorization", "bearer {good}"),), grpc.StatusCode.OK, "", id="scheme-any-case"),
    ],
)
def test_auth_table(guarded: tuple[Artf, dict[str, str]], metadata: tuple[tuple[str, str], ...],
                    code: grpc.StatusCode, details: str) -> None:
    app, tokens = guarded
    md = tuple((key, value.format(**tokens)) for key, value in metadata)
    got, text = app.status(sample("web").SerializeToString(), metadata=md)
    assert got is code
    assert details in text.lower()


def test_revoked_tokens_are_refused_within_the_refresh_interval(guarded: tuple[Artf, dict[str, str]]) -> None:
    app, _ = guarded
    settings = load_settings(env={}, overrides={"auth": AUTH}).auth
    service = IdentityService(app.data_dir, settings)
    identity = service.create_identity("soon-revoked", ["rtd"], with_secret=False)[0]
    token = service.get_token(identity.id, ["rtd"]).token
    assert app.status(sample("web").SerializeToString(), token=token)[0] is grpc.StatusCode.OK
    service.revoke_tokens(identity.id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, details = app.status(sample("web").SerializeToString(), token=token)
        if code is not grpc.StatusCode.OK:
            assert code is grpc.StatusCode.UNAUTHENTICATED and "revoked" in details.lower()
            return
        time.sleep(0.05)
    pytest.fail("a revoked token was still accepted")
