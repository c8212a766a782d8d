"""`segment-server identities …` on the same store code."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from server.auth import AuthSettings, Guard, RevocationView
from server.auth.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, object]:
    result = runner.invoke(app, list(args))
    out = result.stdout.strip()
    return result.exit_code, orjson.loads(out) if out else None


def test_cli_flow(tmp_path: Path) -> None:
    d = str(tmp_path)
    code, created = run("create", "--name", "Index", "-s", "rtd", "-s", "segments", "--data-dir", d)
    assert code == 0 and created["client_secret"].startswith("sss_")  # type: ignore[index]
    identity_id = created["identity"]["id"]  # type: ignore[index]

    code, issued = run("token", identity_id, "-s", "rtd", "--expires-in", "3600", "--data-dir", d)
    assert code == 0 and issued["expires_in"] == 3600 and issued["scopes"] == ["rtd"]  # type: ignore[index]
    guard = Guard(RevocationView(d), AuthSettings())
    assert guard.check("Bearer " + issued["token"], "rtd") is None  # type: ignore[index]

    code, listed = run("list", "--data-dir", d)
    assert [i["id"] for i in listed["identities"]] == [identity_id]  # type: ignore[index]

    code, revoked = run("revoke", identity_id, "--data-dir", d)
    assert code == 0 and revoked["identity_id"] == identity_id  # type: ignore[index]
    guard.view.refresh()
    assert guard.check("Bearer " + issued["token"], "rtd") is not None  # type: ignore[index]

    code, deleted = run("delete", identity_id, "--data-dir", d)
    assert code == 0 and deleted == {"deleted": identity_id}
    assert run("list", "--data-dir", d)[1] == {"identities": []}
    guard.view.close()


def test_cli_errors(tmp_path: Path) -> None:
    d = str(tmp_path)
    assert runner.invoke(app, ["token", "0" * 32, "--data-dir", d]).exit_code == 2
    _, created = run("create", "--name", "x", "-s", "rtd", "--no-secret", "--data-dir", d)
    identity_id = created["identity"]["id"]  # type: ignore[index]
    result = runner.invoke(app, ["token", identity_id, "--expires-in", "60", "--data-dir", d])
    assert result.exit_code == 1 and "3600 and 86400" in result.stderr
    result = runner.invoke(app, ["token", identity_id, "-s", "admin", "--data-dir", d])
    assert result.exit_code == 1 and "not allowed" in result.stderr
    assert runner.invoke(app, ["create", "--name", "x", "-s", "root", "--data-dir", d]).exit_code == 1


def test_data_dir_from_environment(tmp_path: Path) -> None:
    result = runner.invoke(app, ["list"], env={"SEGMENT_SERVER_STORE__DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0 and (tmp_path / "auth.sqlite3").exists()


def test_cli_uses_the_deployment_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "site.toml"
    config.write_text(f'[store]\ndata_dir = "{tmp_path / "d"}"\n'
                      '[auth]\ndefault_lifetime_s = 3600\nscrypt_n = 1024\n')
    _, created = run("create", "--name", "x", "-s", "rtd", "--config", str(config))
    _, issued = run("token", created["identity"]["id"], "--config", str(config))  # type: ignore[index]
    assert issued["expires_in"] == 3600  # type: ignore[index]
    assert (tmp_path / "d" / "auth.sqlite3").exists()
    config.write_text("[auth]\ndefault_lifetime_s = 60\n")
    result = runner.invoke(app, ["list", "--config", str(config)])
    assert result.exit_code == 2 and "auth.default_lifetime_s" in result.stderr
