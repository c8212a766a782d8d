"""App wiring helper and the `make run` demo token."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from server.auth import AuthSettings, Guard, IdentityService, RevocationView, build_auth, ensure_demo_identity

from .conftest import TestClient


def test_build_auth_routes_and_lifecycle(tmp_path: Path) -> None:
    auth = build_auth(tmp_path, AuthSettings(scrypt_n=2**10))
    auth.startup()
    assert set(auth.view.keys) == {1}
    identity, _ = auth.service.create_identity("ops", ["admin"], with_secret=False)
    token = auth.service.get_token(identity.id).token
    with TestClient(Starlette(routes=auth.routes())) as client:
        r = client.get("/admin/identities", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and len(r.json()["identities"]) == 1
    auth.shutdown()


def test_demo_token_works_everywhere_and_identity_is_reused(tmp_path: Path) -> None:
    first = ensure_demo_identity(tmp_path, AuthSettings(scrypt_n=2**10))
    second = ensure_demo_identity(tmp_path, AuthSettings(scrypt_n=2**10))
    guard = Guard(RevocationView(tmp_path))
    for token in (first, second):
        for scope in ("rtd", "segments", "admin"):
            assert guard.check(f"Bearer {token}", scope) is None
    assert [i.display_name for i in IdentityService(tmp_path).list_identities()] == ["demo"]
    guard.view.close()
