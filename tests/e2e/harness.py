"""The end-to-end layer's view of a real ``segment-server``: the shared process helper
(``tests/serverproc.py``, which says why it is built as it is) plus what only these tests need —
the operator's default config, a demo data set loaded before ``serve``, the demo token, and a POST
on a fresh connection so a multi-worker server spreads the requests.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.serverproc import (
    CLI,
    READY_DEADLINE,
    Server,
    TomlTables,
    cli_env,
    free_port,
    merge,
    run_cli,
    serve_ready,
    spawn,
    wait_for,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["CLI", "READY_DEADLINE", "ROOT", "Server", "base_tables", "cli_env", "demo_token", "free_port",
           "merge", "post_fresh", "run_cli", "start_server", "wait_for", "write_config"]


def post_fresh(port: int, path: str, body: bytes,
               headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """One POST on a new connection (so a multi-worker server spreads them): the stdlib client,
    since an ``httpx.Client`` per request costs an SSL context each (~20 ms of a shared core)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def base_tables(data_dir: Path, port: int) -> dict[str, dict[str, Any]]:
    """What an operator's config file would say: a data dir and a port, everything else default."""
    return {"server": {"host": "127.0.0.1", "port": port}, "store": {"data_dir": str(data_dir)}}


PORT_ATTEMPTS = 3  # a free port can be taken by another process before serve binds it


def start_server(tmp: Path, *, workers: int | None = None, tables: TomlTables = {},  # noqa: B006
                 demo_users: int | None = 200, ready: int | None = 200,
                 serve_args: Iterable[str] = ()) -> Server:
    """Write the config, optionally load the demo data set, start ``serve`` and wait for readiness.

    The machine is shared: between :func:`free_port` and ``serve``'s bind another process may take
    the port (any outgoing connection can get it as its local port). A start that fails with
    "address already in use" is retried on a new port; any other failure fails the test at once."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "data"
    port = free_port()
    config = write_config(tmp / "segment-server.toml", merge(base_tables(data_dir, port), tables))
    if demo_users is not None:
        done = run_cli(config, "demo", "--users", str(demo_users))
        assert done.returncode == 0, done.stderr
    args = [*(["--workers", str(workers)] if workers else []), *serve_args]
    if ready is None:
        return spawn(config, "serve", *args, port=port, logs=tmp / "server", data_dir=data_dir)
    status = ready
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            return serve_ready(config, *args, port=port, logs=tmp / "server", data_dir=data_dir,
                               ready=lambda server: server.wait_ready(status))
        except AssertionError as failed:
            if attempt == PORT_ATTEMPTS or "address already in use" not in str(failed).lower():
                raise
        port = free_port()
        config = write_config(config, merge(base_tables(data_dir, port), tables))
    raise AssertionError("unreachable")


def demo_token(server: Server) -> str:
    done = run_cli(server.config, "demo-token")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
