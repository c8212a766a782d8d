"""A real ``segment-server serve`` process for the HTTP tests that need one: the demo snapshot in a
temp data dir, auth off, one worker (so the serving process is the one whose memory is read), on
the shared process helper ``tests/serverproc.py``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.serverproc import Server, free_port, merge, run_cli, serve_ready, write_config


@dataclass
class LiveServer(Server):
    def rss_bytes(self) -> int:
        """Resident memory of the serving process (one worker: uvicorn serves in-process)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@contextmanager
def live_server(tmp: Path, **sections: Mapping[str, object]) -> Iterator[LiveServer]:
    """Serve the demo data with auth off; ``sections`` add or override TOML keys per section."""
    port = free_port()
    config = write_config(tmp / "config.toml", merge({
        "server": {"host": "127.0.0.1", "port": port, "workers": 1, "log_level": "warning"},
        "store": {"data_dir": tmp / "data"},
        "auth": {"rtd_enabled": False, "segments_enabled": False, "admin_enabled": False},
    }, sections))
    demo = run_cli(config, "demo", "--users", "100")
    assert demo.returncode == 0, demo.stderr
    server = serve_ready(config, port=port, logs=tmp / "server.log", merged=True)
    with LiveServer(**vars(server)) as live:
        yield live
