"""The ``[grpc]`` section: off by default, validated once with every bad key named."""

from __future__ import annotations

import pytest

from server.artf.settings import GrpcSettings
from server.config import ConfigError, load_settings


def test_registered_and_off_by_default() -> None:
    settings = load_settings(env={}).grpc
    assert settings == GrpcSettings() and not settings.enabled and settings.max_message_bytes == 65536


def test_environment_turns_it_on() -> None:
    assert load_settings(env={"SEGMENT_SERVER_GRPC__PORT": "50051"}).grpc.port == 50051


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        pytest.param({"port": 70000}, "grpc.port", id="port"),
        pytest.param({"max_message_bytes": 10}, "grpc.max_message_bytes", id="max-message"),
        pytest.param({"min_budget_ms": -1.0}, "grpc.min_budget_ms", id="budget"),
        pytest.param({"grace_seconds": 1e6}, "grpc.grace_seconds", id="grace"),
        pytest.param({"api_version": ""}, "grpc.api_version", id="api-version"),
        pytest.param({"prot": 1}, "grpc.prot: unknown setting", id="typo"),
    ],
)
def test_bad_values_are_named(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, overrides={"grpc": values})
    assert any(e.startswith(problem) for e in info.value.errors), info.value.errors
