import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli import app
from tests.helpers import TAXONOMY, write_jsonl

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
