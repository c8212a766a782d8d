"""Secrets and tokens never reach the logs: run every operation, capture all output, search it."""

from __future__ import annotations

import base64
import logging

import pytest
import structlog
from structlog.testing import capture_logs

from server.auth import IdentityService

from .conftest import TestClient, bearer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _flow(client: TestClient, service: IdentityService, admin_token: str) -> list[str]:
    """Every operation that touches a secret or a token; returns the secrets and tokens it saw."""
    seen = [admin_token]
    auth = bearer(admin_token)
    created = client.post("/admin/identities", headers=auth,
                          json={"display_name": "i", "scopes": ["rtd"]}).json()
    identity_id, secret = created["identity"]["id"], created["client_secret"]
    seen.append(secret)
    basic = base64.b64encode(f"{identity_id}:{secret}".encode()).decode()
    issued = client.post("/oauth/token", content="grant_type=client_credentials",
                         headers={"Authorization": f"Basic {basic}", **FORM}).json()
    seen.append(issued["access_token"])
    wrong = base64.b64encode(f"{identity_id}:{secret}WRONG".encode()).decode()
    client.post("/oauth/token", content="grant_type=client_credentials",
                headers={"Authorization": f"Basic {wrong}", **FORM})
    client.post("/oauth/token", headers=FORM,
                content=f"grant_type=client_credentials&client_id={identity_id}&client_secret=guess-{secret[:8]}")
    client.post("/oauth/token", headers=FORM,  # a client that swapped its id and secret fields
                content=f"grant_type=client_credentials&client_id={secret}&client_secret={identity_id}")
    seen.append(client.post(f"/admin/identities/{identity_id}/tokens", headers=auth).json()["token"])
    both = client.post("/admin/identities-with-token", headers=auth,
                       json={"display_name": "j", "scopes": ["rtd"], "client_secret": True}).json()
    seen += [both["client_secret"], both["token"]["token"]]
    client.post("/rtd", headers=bearer(issued["access_token"]))
    client.post("/rtd", headers=bearer(issued["access_token"][:-2] + "xx"))
    client.delete(f"/admin/identities/{identity_id}/tokens", headers=auth)
    client.delete(f"/admin/identities/{identity_id}", headers=auth)
    _, cli_secret = service.create_identity("k", ["rtd"])
    assert cli_secret is not None
    seen.append(cli_secret)
    return seen


def _assert_clean(text: str, seen: list[str]) -> None:
    for value in seen:
        for fragment in (value, value[4:20], value[-16:]):  # whole value, and distinctive pieces of it
            assert fragment not in text, "a secret or token reached the logs"


def test_structured_events_carry_no_secrets(client: TestClient, service: IdentityService,
                                            admin_token: str) -> None:
    with capture_logs() as events:
        seen = _flow(client, service, admin_token)
    names = {e["event"] for e in events}
    assert {"auth.identity_created", "auth.token_issued", "auth.client_auth_failed", "auth.tokens_revoked",
            "auth.identity_deleted"} <= names  # the capture really saw the flow
    _assert_clean(repr(events), seen)


def test_rendered_output_carries_no_secrets(
    client: TestClient, service: IdentityService, admin_token: str,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    structlog.reset_defaults()  # default config: rendered lines on stdout, as in a dev run
    caplog.set_level(logging.DEBUG)  # and anything that goes through stdlib logging (httpx, starlette)
    seen = _flow(client, service, admin_token)
    out, err = capsys.readouterr()
    assert "auth.token_issued" in out
    _assert_clean(out + err + caplog.text, seen)
