"""README → Configuration: "Settings are validated once, before uvicorn forks workers, and every bad
key is reported by name". ``serve`` is given a broken file through ``SEGMENT_SERVER_CONFIG`` only."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import CLI, base_tables, cli_env, free_port, merge, write_config

REFUSAL_DEADLINE = 30.0  # a refusal takes ~1 s (imports); a server that starts instead is stopped

BAD = [
    pytest.param({"server": {"port": "x"}}, ["server.port"], id="port-not-an-integer"),
    pytest.param({"server": {"prot": 8080}, "store": {"prewarm": "yes"}},
                 ["server.prot", "store.prewarm"], id="two-bad-keys-both-named"),
    pytest.param({"mirror": {"enabled": True, "posts_per_second": 1000.0}}, ["mirror.posts_per_second"],
                 id="mirror-over-xandr-limit"),
    pytest.param({"uid2": {"enabled": True}}, ["uid2.api_key", "uid2.secret"], id="uid2-without-credentials"),
    pytest.param({"server": {"access_log_sample_rate": 2.0}}, ["server.access_log_sample_rate"],
                 id="sample-rate-over-1"),
]


@pytest.mark.parametrize(("broken", "keys"), BAD)
def test_serve_rejects_bad_config_before_any_worker(tmp_path: Path, broken: dict[str, dict[str, object]],
                                                    keys: list[str]) -> None:
    port = free_port()
    config = write_config(tmp_path / "bad.toml", merge(base_tables(tmp_path / "data", port), broken))
    done = _serve_expecting_refusal(config)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("invalid configuration:"), done.stderr
    for key in keys:
        assert key in done.stderr, f"{key} not named in:\n{done.stderr}"
    started = done.stdout + done.stderr
    assert "Started server process" not in started and "Uvicorn running" not in started
    assert not (tmp_path / "data" / "metrics").exists(), "nothing may be prepared for workers"
    # No bind() probe of the port here: serve has exited, so a port it had taken would be free again
    # (the probe proved nothing), and on a shared machine another process may hold it by then (a flake).


def _serve_expecting_refusal(config: Path,
                             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``serve --workers 2``; if it starts serving instead of refusing, stop its whole process
    group (workers included) and fail."""
    proc = subprocess.Popen([str(CLI), "serve", "--workers", "2"], env=cli_env(config, env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=REFUSAL_DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"serve accepted the configuration and started:\n{err[-1500:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_readme_example_env_override(tmp_path: Path) -> None:
    """The README's own example, ``SEGMENT_SERVER_SERVER__PORT='"x"'``, on top of a good file."""
    config = write_config(tmp_path / "ok.toml", base_tables(tmp_path / "data", free_port()))
    done = _serve_expecting_refusal(config, {"SEGMENT_SERVER_SERVER__PORT": '"x"'})
    assert done.returncode == 2
    assert "invalid configuration:\n  server.port: expected an integer, got 'x'" in done.stderr


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    done = _serve_expecting_refusal(missing)
    assert done.returncode == 2 and str(missing) in done.stderr, done.stderr
