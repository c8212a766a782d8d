"""``[server] engine``: the setting, and how ``[server]`` maps onto granian's options."""

from __future__ import annotations

import socket

import pytest
from granian.http import HTTP1Settings

from server.config import ServerSettings, SettingsError
from server.serving import granian_engine


@pytest.mark.parametrize(("raw", "engine"), [
    pytest.param({}, "uvicorn", id="default"),
    pytest.param({"engine": "granian"}, "granian", id="granian"),
])
def test_engine_setting(raw: dict[str, object], engine: str) -> None:
    assert ServerSettings.from_mapping(raw, section="server").engine == engine


def test_unknown_engine_is_named() -> None:
    with pytest.raises(SettingsError, match=r"server\.engine"):
        ServerSettings.from_mapping({"engine": "gunicorn"}, section="server")


def test_granian_options_follow_the_server_section() -> None:
    server = ServerSettings(workers=3, max_connections=100, header_timeout_seconds=2.5)
    opts = granian_engine.options(server, "warning", "json")
    http1 = opts["http1_settings"]
    assert isinstance(http1, HTTP1Settings)
    assert (opts["workers"], opts["backpressure"], opts["factory"]) == (3, 100, True)
    assert http1.header_read_timeout == 2500  # milliseconds
    assert http1.max_buffer_size >= 32768
    assert str(opts["interface"]) == "asgi" and str(opts["runtime_mode"]) == "st"


def test_a_listening_port_is_refused_even_to_reuseport() -> None:
    """granian binds with SO_REUSEPORT; the probe must still see a port another server listens on."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            granian_engine.check_port("127.0.0.1", taken.getsockname()[1])
