import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from server.cli import app
from tests.helpers import TAXONOMY, write_jsonl
from tests.serverproc import free_port, run_cli, spawn

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SEGMENT_SERVER_STORE__DATA_DIR": str(tmp_path / "data")}


def test_load_reports_rejects_by_line_and_stats(tmp_path: Path, env: dict[str, str]) -> None:
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    mem = tmp_path / "m.csv"
    mem.write_text("kind,key,segments,expires\nuid2,abc,sports,\nip,1.2.3.4/33,cars,\nurl,example.com/a,cars;nope,\n")
    result = runner.invoke(app, ["load", str(mem), "--taxonomy", str(tax), "--max-rejected", "2"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["rows"], summary["rejected"], summary["version"]) == (1, 2, 1)
    assert f"rejected {mem}:3: invalid ip value" in result.stderr
    assert f"rejected {mem}:4: unknown segment id(s) ['nope']" in result.stderr

    stats = runner.invoke(app, ["stats"], env=env)
    assert stats.exit_code == 0, stats.output
    out = json.loads(stats.stdout)
    assert out["keys_by_kind"] == {"uid2": 1} and out["segments"] == len(TAXONOMY)


def test_load_needs_input(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["load"], env=env).exit_code == 2


def test_bad_config_exits_2_naming_the_key(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["stats"], env={**env, "SEGMENT_SERVER_SERVER__PORT": '"x"'})
    assert result.exit_code == 2 and "server.port" in result.stderr


def test_serve_names_an_unknown_engine_before_starting(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["serve", "--engine", "gunicorn"], env=env)
    assert result.exit_code == 2 and "server.engine" in result.stderr and "'granian'" in result.stderr


def test_stats_without_snapshot_fails_clearly(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["stats"], env=env)
    assert result.exit_code == 1 and "segment-server load" in result.stderr


def test_demo_is_deterministic_and_contains_seed_sample_keys(tmp_path: Path, env: dict[str, str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = runner.invoke(app, ["demo", "--users", "200", "--out-dir", str(out)], env=env)
        assert result.exit_code == 0, result.output
    assert (a / "memberships.jsonl.gz").read_bytes() == (b / "memberships.jsonl.gz").read_bytes()
    stats = json.loads(runner.invoke(app, ["stats"], env=env).stdout)
    assert stats["keys_by_kind"]["bundle"] == 1 and stats["keys_by_kind"]["uid2"] > 0


# --- every command as a subprocess, configured only by SEGMENT_SERVER_CONFIG (issue 26 items 8-9, 27) ---

SECRET_B64 = base64.b64encode(bytes(range(32))).decode()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _until(argv: list[str], config: Path, home: Path, cwd: Path, logs: Path,
           ready: Callable[[], bool]) -> None:
    """Start a long-running command, wait until ``ready()``, then stop it with SIGTERM."""
    with spawn(config, *argv, port=0, logs=logs / "-".join(argv), merged=True, cwd=cwd, home=home) as proc:
        proc.wait_until(ready, f"{argv}: ready")


def _live(port: int) -> Callable[[], bool]:
    return lambda: httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200


@pytest.mark.slow
def test_every_command_reads_one_config_and_writes_only_under_its_data_dir(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    data, cwd, home = tmp_path / "data", tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir(), home.mkdir()
    port, dead = free_port(), f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "site.toml"
    config.write_text(f'[store]\ndata_dir = "{data}"\n[server]\nport = {port}\n'
                      f'[uid2]\nbase_url = "{dead}"\napi_key = "k"\nsecret = "{SECRET_B64}"\n'
                      f'[identity]\nenabled = true\n[mirror]\napi_url = "{dead}"\nstreaming_url = "{dead}"\n'
                      f'username = "u"\npassword = "p"\n')
    logs = tmp_path_factory.mktemp("cli-logs")  # outside tmp_path: only data/ may change there
    before = _files(tmp_path)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return run_cli(config, *argv, cwd=cwd, home=home)

    assert run("demo", "--users", "50").returncode == 0
    assert (data / "store").is_dir()
    assert run("stats").returncode == 0
    assert run("identities", "list").returncode == 0 and (data / "auth.sqlite3").exists()
    assert run("demo-token").returncode == 0
    _until(["mirror", "run"], config, home, cwd, logs, lambda: (data / "mirror-outbox.sqlite3").exists())
    assert json.loads(run("mirror", "status", "--json").stdout)["outbox"] == str(data)
    _until(["worker"], config, home, cwd, logs, lambda: (data / "identity.sqlite").exists())
    assert run("uid2", "status").returncode == 0
    keys = run("uid2", "keys")
    assert keys.returncode == 2 and "key refresh failed" in keys.stderr  # the operator URL is dead
    _until(["serve"], config, home, cwd, logs,
           _live(port))  # one worker counts in memory: no metrics dir to write

    written = _files(tmp_path) - before
    assert written and all(name.startswith("data/") for name in written), sorted(written)
    assert not any(cwd.iterdir()) and not any(home.iterdir())


@pytest.mark.parametrize(("argv", "lines"), [
    pytest.param(["worker"],
                 [("identity.enabled: `segment-server worker` runs the UID2 identity jobs, which are off: "
                              "set [identity] enabled = true or SEGMENT_SERVER_IDENTITY__ENABLED=true")],
                              id="worker"),
    pytest.param(["mirror", "run"], [
        ("mirror.username: required by `segment-server mirror run`: set [mirror] username or "
        "SEGMENT_SERVER_MIRROR__USERNAME"),
        ("mirror.password_file: required by `segment-server mirror run`: set [mirror] password_file or "
        "SEGMENT_SERVER_MIRROR__PASSWORD_FILE (or password / SEGMENT_SERVER_MIRROR__PASSWORD)")],
        id="mirror-run"),
    pytest.param(["uid2", "keys"], [
        ("uid2.api_key: required by `segment-server uid2 keys`: set [uid2] api_key or "
        "SEGMENT_SERVER_UID2__API_KEY / UID2_API_KEY"),
        ("uid2.secret: required by `segment-server uid2 keys`: set [uid2] secret or "
        "SEGMENT_SERVER_UID2__SECRET / UID2_SECRET (base64, 32 bytes), or set [uid2] secret_file or "
        "SEGMENT_SERVER_UID2__SECRET_FILE / UID2_SECRET_FILE")], id="uid2-keys"),
    pytest.param(["uid2", "map"], [
        ("uid2.api_key: required by `segment-server uid2 map`: set [uid2] api_key or "
        "SEGMENT_SERVER_UID2__API_KEY / UID2_API_KEY")], id="uid2-map"),
])
def test_unconfigured_commands_say_what_to_set_and_how(tmp_path: Path, argv: list[str],
                                                       lines: list[str]) -> None:
    config = tmp_path / "site.toml"
    config.write_text(f'[store]\ndata_dir = "{tmp_path / "data"}"\n')
    result = run_cli(config, *argv, cwd=tmp_path, home=tmp_path)
    assert result.returncode == 2
    for line in lines:
        assert f"\n  {line}\n" in result.stderr + "\n", result.stderr
