"""``segment-server cluster publish|status`` as a subprocess: happy path on a real engine, and the
user errors (cluster off, no ``publish_dir``, engine unreachable) named with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.engine import RedisProcess
from tests.serverproc import free_port, run_cli, write_config


def _config(tmp: Path, **cluster: Any) -> Path:
    return write_config(tmp / "server.toml", {"store": {"data_dir": tmp / "data"}, "cluster": cluster})


def test_publish_then_status(tmp_path: Path, engine: RedisProcess) -> None:
    config = _config(tmp_path, enabled=True, url=engine.url, key_prefix="cli-test",
                     publish_dir=tmp_path / "shared")
    assert run_cli(config, "demo", "--users", "20").returncode == 0
    done = run_cli(config, "cluster", "publish")
    assert done.returncode == 0, done.stderr
    published = json.loads(done.stdout)
    assert (tmp_path / "shared" / published["name"]).stat().st_size == published["size"]
    status = run_cli(config, "cluster", "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["published"]["version"] == published["version"]


@pytest.mark.parametrize(("cluster", "code", "says"), [
    pytest.param({}, 2, "cluster.enabled: publishing needs the cluster", id="cluster-off"),
    pytest.param({"enabled": True}, 2, "cluster.publish_dir: where every node reads", id="no-publish-dir"),
    pytest.param({"enabled": True, "url": "redis://127.0.0.1:{port}/0", "publish_dir": "{tmp}/shared",
                  "connect_timeout_s": 0.2}, 1, "cluster engine unreachable", id="engine-down"),
])
def test_publish_user_errors(tmp_path: Path, cluster: dict[str, Any], code: int, says: str) -> None:
    filled = {k: v.format(port=free_port(), tmp=tmp_path) if isinstance(v, str) else v
              for k, v in cluster.items()}
    config = _config(tmp_path, **filled)
    assert run_cli(config, "demo", "--users", "20").returncode == 0
    done = run_cli(config, "cluster", "publish")
    assert done.returncode == code and says in done.stderr, done.stdout + done.stderr


def test_an_identity_job_without_the_engine_is_refused(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    config = write_config(tmp_path / "server.toml", {
        "store": {"data_dir": tmp_path / "data"},
        "cluster": {"enabled": True, "url": dead, "connect_timeout_s": 0.2, "command_timeout_s": 0.2},
        "identity": {"enabled": True, "base_url": f"http://127.0.0.1:{free_port()}", "api_key": "k",
                     "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
    })
    done = run_cli(config, "uid2", "map", "--now")
    assert done.returncode == 1, done.stdout + done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert "no identity job runs without the lease" in answer["error"]
