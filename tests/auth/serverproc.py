"""The real ``segment-server serve`` over an auth test's data dir, through the one process helper
(``tests/serverproc.py``): config only via ``SEGMENT_SERVER_CONFIG``, a free loopback port, output
merged into ``server.log`` because these tests read what was logged around a failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.serverproc import Server, free_port, serve_ready, write_config

__all__ = ["Server", "config_for", "serving"]


def config_for(tmp: Path, data: Path, port: int, workers: int) -> Path:
    """The operator's file for serving ``data`` on ``port`` with ``workers`` processes."""
    return write_config(tmp / "server.toml", {"store": {"data_dir": data},
                                              "server": {"host": "127.0.0.1", "port": port,
                                                         "workers": workers}})


@contextmanager
def serving(tmp: Path, data: Path, *, workers: int = 1) -> Iterator[Server]:
    """A ready server on a free loopback port over ``data``, stopped (SIGTERM) on exit."""
    port = free_port()
    config = config_for(tmp, data, port, workers)
    with serve_ready(config, port=port, logs=tmp / "server.log", data_dir=data, merged=True) as server:
        yield server
