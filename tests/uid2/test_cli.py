from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS
from typer.testing import CliRunner

from server.uid2.cli import app

RUNNER = CliRunner()
NOW = VECTORS["reference_now"]


@pytest.fixture
def keys_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name, document in VECTORS["key_sets"].items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(document))
    files["body-only"] = tmp_path / "body.json"
    files["body-only"].write_text(json.dumps(VECTORS["key_sets"]["bidstream"]["body"]))
    return files


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


@pytest.mark.parametrize(
    "key_file", [pytest.param("bidstream", id="full-response"), pytest.param("body-only", id="body-only")]
)
def test_decrypt_prints_one_object_per_token(keys_files: dict[str, Path], key_file: str) -> None:
    chosen = [
        v
        for v in VECTORS["tokens"]
        if v["decrypt_with"]
        == {"key_set": "bidstream", "client_type": "BIDSTREAM", "domain_or_app_name": None, "now": NOW}
    ]
    result = RUNNER.invoke(
        app, ["decrypt", "--keys", str(keys_files[key_file]), "--now", NOW, *[v["token"] for v in chosen]]
    )
    lines = _lines(result.stdout)
    assert [line["status"] for line in lines] == [v["reference_status"] for v in chosen]
    assert result.exit_code == 1  # some vectors fail on purpose
    first = lines[0]
    assert set(first) == {"status", "uid", "version", "site_id", "established", "expires", "identity_scope"}
    assert (first["uid"], first["expires"]) == (chosen[0]["raw_uid"], "2025-01-03T23:00:00.000Z")


def test_decrypt_with_domain_and_sharing_client(keys_files: dict[str, Path]) -> None:
    cstg = next(v for v in VECTORS["tokens"] if v["name"] == "cstg_v4_domain_example.com")["token"]
    ok = RUNNER.invoke(
        app,
        ["decrypt", "--keys", str(keys_files["bidstream"]), "--now", NOW, "--domain", "example.com", cstg],
    )
    assert (ok.exit_code, _lines(ok.stdout)[0]["status"]) == (0, "SUCCESS")
    sharing = RUNNER.invoke(
        app, ["decrypt", "--keys", str(keys_files["sharing"]), "--now", NOW, "--client-type", "sharing", cstg]
    )
    assert _lines(sharing.stdout)[0]["status"] == "SUCCESS"


def test_encrypt_then_decrypt(keys_files: dict[str, Path]) -> None:
    raw = VECTORS["raw_uids"]["uid2_phone_v3"]
    made = RUNNER.invoke(app, ["encrypt", "--keys", str(keys_files["sharing"]), "--now", NOW, raw])
    token = _lines(made.stdout)[0]["token"]
    back = RUNNER.invoke(
        app,
        ["decrypt", "--keys", str(keys_files["sharing"]), "--now", NOW, "--client-type", "sharing", token],
    )
    assert _lines(back.stdout)[0]["uid"] == raw


def test_encrypt_failure_exits_nonzero(keys_files: dict[str, Path]) -> None:
    result = RUNNER.invoke(app, ["encrypt", "--keys", str(keys_files["bidstream"]), "--now", NOW, "AAAA"])
    assert (result.exit_code, _lines(result.stdout)[0]["status"]) == (1, "NOT_AUTHORIZED_FOR_MASTER_KEY")


def test_keys_requires_credentials_and_echoes_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UID2_API_KEY", raising=False)
    monkeypatch.setenv("UID2_SECRET", "c2VjcmV0")
    result = RUNNER.invoke(app, ["keys"])
    assert result.exit_code != 0
    assert "c2VjcmV0" not in result.output
