"""``[cluster]``: off by default, every bad key named, and no redis-py on a single node."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.cluster import ClusterSettings
from server.config import SettingsError, load_settings


def test_off_by_default_in_the_shipped_config() -> None:
    settings = load_settings(env={})
    assert settings.cluster == ClusterSettings()
    assert not settings.cluster.enabled


def test_environment_turns_it_on() -> None:
    env = {"SEGMENT_SERVER_CLUSTER__ENABLED": "true", "SEGMENT_SERVER_CLUSTER__URL": "redis://10.0.0.5:6379/2"}
    cluster = load_settings(env=env).cluster
    assert cluster.enabled and cluster.url == "redis://10.0.0.5:6379/2"


@pytest.mark.parametrize(("table", "problem"), [
    pytest.param({"url": "http://x:6379"}, "cluster.url: expected a redis/rediss/unix:// URL",
                 id="url-scheme"),
    pytest.param({"key_prefix": "a{b}"}, "cluster.key_prefix: must be non-empty", id="prefix-braces"),
    pytest.param({"key_prefix": ""}, "cluster.key_prefix: must be non-empty", id="prefix-empty"),
    pytest.param({"command_timeout_s": 0}, "cluster.command_timeout_s: must be between", id="timeout-zero"),
    pytest.param({"sync_interval_s": 1.0}, "cluster.sync_interval_s: must be between 0.01 and 0.25",
                 id="slow-sync"),
    pytest.param({"publish_dir": "s3://bucket/x"}, "cluster.publish_dir: expected a directory path",
                 id="publish-dir-scheme"),
    pytest.param({"edits_max": 10}, "cluster.edits_max: must be at least 1000", id="edits-max"),
    pytest.param({"job_lease_s": 0}, "cluster.job_lease_s: must be between 1 and 3600", id="job-lease"),
    pytest.param({"enabled": "yes"}, "cluster.enabled: expected true or false", id="not-a-bool"),
    pytest.param({"urls": "redis://x"}, "cluster.urls: unknown setting", id="typo"),
])
def test_bad_settings_are_named(table: dict[str, object], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ClusterSettings.from_mapping(table)
    assert problem in str(caught.value)


def test_a_single_node_app_never_imports_redis(tmp_path: Path) -> None:
    code = ("import sys; from server.app import create_app; from server.config import load_settings; "
            "from starlette.testclient import TestClient; "
            f"s = load_settings(env={{}}, overrides={{'store': {{'data_dir': {str(tmp_path)!r}}}}}); "
            "c = TestClient(create_app(s)); c.__enter__(); c.get('/health/ready'); "
            "c.__exit__(None, None, None); "
            "assert 'redis' not in sys.modules, 'redis imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
