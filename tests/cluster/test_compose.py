"""docker-compose.yml, profile ``cluster``: two replicas on their own volumes, one engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from server.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: svc for name, svc in services.items() if "cluster" in svc.get("profiles", [])}


def test_two_replicas_and_an_engine_behind_the_cluster_profile() -> None:
    services = _services()
    assert set(services) == {"engine", "published-init", "node1", "node2"}
    nodes = [services["node1"], services["node2"]]
    assert all(svc["command"][0].endswith("exec segment-server serve") for svc in nodes)
    data = [[v for v in svc["volumes"] if v.endswith(":/data")] for svc in nodes]
    assert data[0] != data[1], "each replica has its own data dir"
    assert all("published:/published" in svc["volumes"] for svc in nodes), "the shared publish volume"
    assert nodes[0]["ports"] != nodes[1]["ports"]
    assert all(set(svc["depends_on"]) == {"engine", "published-init"} for svc in nodes)
    init = services["published-init"]
    assert init["user"] == "0:0", "a new volume's root is root's"
    assert init["command"] == ["chown 10001:10001 /published"], "writable by the server's uid 10001"
    assert services["engine"]["command"][0] == "redis-server"


def test_the_replicas_environment_is_valid_cluster_settings() -> None:
    env = {k: str(v) for k, v in _services()["node2"]["environment"].items() if "${" not in str(v)}
    cluster = load_settings(env=env).cluster
    assert cluster.enabled and cluster.url == "redis://engine:6379/0"
    assert cluster.publish_path is not None and str(cluster.publish_path) == "/published"
