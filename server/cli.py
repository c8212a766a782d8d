"""``segment-server``: the one command ops need — serve, load, inspect, and each subsystem's tools."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import orjson
import typer

from server.config import ENV_PREFIX, ConfigError, Settings, load_settings

app = typer.Typer(help="Index Exchange data-partner segment server.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file layered over config/default.toml")]


def _settings(config: Path | None, **overrides: Mapping[str, object]) -> Settings:
    try:
        return load_settings(config, overrides={k: v for k, v in overrides.items() if v})
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="bind address (default from config)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config)")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes")] = None,
) -> None:
    """Validate the configuration once, then start uvicorn (workers share the store, not copies)."""
    server = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    settings = _settings(config, server=server)
    if config is not None:
        os.environ[ENV_PREFIX + "CONFIG"] = str(config.resolve())
    for key, value in server.items():
        os.environ[f"{ENV_PREFIX}SERVER__{key.upper()}"] = str(value)
    _prepare_metrics_dir(settings)
    from segments import compiled

    typer.echo(f"hot path: {compiled.state()}", err=True)  # "compiled", or why it runs as plain Python
    import uvicorn

    s = settings.server
    uvicorn.run("server.app:create_app", factory=True, host=s.host, port=s.port, workers=s.workers,
                loop="uvloop", http="server.protocol:GuardedHttpToolsProtocol", access_log=False, log_level=s.log_level,
                timeout_graceful_shutdown=10, proxy_headers=False, timeout_keep_alive=s.keep_alive_timeout_seconds,
                ws="none")


def _prepare_metrics_dir(settings: Settings) -> None:
    """prometheus-client multiprocess mode: a fresh directory, set before any worker imports it."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(settings.data_dir / "metrics")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


@app.command()
def load(
    files: Annotated[list[Path], typer.Argument(help="membership files: CSV/JSONL, optionally .gz")] = [],  # noqa: B006
    taxonomy: Annotated[list[Path], typer.Option("--taxonomy", "-t", help="taxonomy JSON/CSV/JSONL")] = [],  # noqa: B006
    replace: Annotated[bool, typer.Option(help="start from an empty snapshot instead of merging")] = False,
    config: ConfigOpt = None,
    data_dir: Annotated[Path | None, typer.Option(help="override store.data_dir")] = None,
    max_rejects_shown: int = 50,
) -> None:
    """Bulk-load into a new snapshot and publish it atomically; rejected rows are listed by line."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from segments.loader import load as run_load

    settings = _settings(config, store={"data_dir": str(data_dir)} if data_dir else {})
    if not files and not taxonomy:
        typer.echo("nothing to load: give membership files and/or --taxonomy", err=True)
        raise typer.Exit(2)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("loading", total=None)
        report = run_load(settings.data_dir, files, taxonomy, mode="replace" if replace else "merge",
                          progress=lambda n: progress.update(task, completed=n))
    for rejected in report.rejected[:max_rejects_shown]:
        typer.echo(f"rejected {rejected}", err=True)
    if len(report.rejected) > max_rejects_shown:
        typer.echo(f"… and {len(report.rejected) - max_rejects_shown} more rejected rows", err=True)
    typer.echo(orjson.dumps({"version": report.version, "rows": report.rows, "keys": report.keys,
                             "segments": report.segments, "rejected": len(report.rejected),
                             "seconds": round(report.seconds, 3), "snapshot": report.path}).decode())


@app.command()
def stats(config: ConfigOpt = None, by_kind: bool = typer.Option(True, help="count keys per kind (scans)")) -> None:
    """Print the serving snapshot: version, age, keys per kind, segments."""
    import time

    from segments.store import NoSnapshot, SQLiteStore

    settings = _settings(config)
    try:
        store = SQLiteStore(settings.data_dir)
    except NoSnapshot as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    info = store.info
    out: dict[str, object] = {"version": info.version, "age_seconds": round(time.time() - info.created_at, 1),
                              "keys": info.members, "segments": info.segments, "path": info.path,
                              "ip_prefix_lengths": sorted(store.ip_prefix_lengths)}
    if by_kind:
        conn = sqlite3.connect(f"file:{info.path}?mode=ro", uri=True)
        rows = conn.execute("SELECT substr(key, 1, instr(key, ':') - 1), count(*) FROM members GROUP BY 1")
        out["keys_by_kind"] = dict(rows.fetchall())
        conn.close()
    store.close()
    typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="number of synthetic users")] = 10000,
    seed: int = 7,
    config: ConfigOpt = None,
    out_dir: Annotated[Path | None, typer.Option(help="keep the generated files here")] = None,
) -> None:
    """Generate the deterministic demo data set and load it (replacing the current snapshot)."""
    from segments import demo as demo_data
    from segments.loader import load as run_load

    settings = _settings(config)
    target = out_dir or Path(tempfile.mkdtemp(prefix="segserver-demo-"))
    tax, mem = demo_data.write(target, users, seed)
    report = run_load(settings.data_dir, [mem], [tax], mode="replace")
    typer.echo(orjson.dumps({"version": report.version, "rows": report.rows, "keys": report.keys,
                             "rejected": len(report.rejected), "seconds": round(report.seconds, 2)}).decode())
    if out_dir is None:
        shutil.rmtree(target, ignore_errors=True)


@app.command("demo-token")
def demo_token(config: ConfigOpt = None) -> None:
    """Print a 24 h bearer token (scopes rtd, segments, admin) for the local demo identity."""
    from server.auth import ensure_demo_identity

    settings = _settings(config)
    with contextlib.redirect_stdout(sys.stderr):  # audit log lines go to stderr; stdout is the token alone
        token = ensure_demo_identity(settings.data_dir, settings.auth)
    typer.echo(token)


def _mount_subsystems() -> None:
    from server.auth.cli import app as identities_app
    from server.mirror.cli import app as mirror_app
    from server.uid2.cli import app as uid2_app
    from server.uid2.identity import cli as identity_cli

    uid2_app.add_typer(identity_cli.app)  # uid2 map | rotate | optout | status | worker
    app.add_typer(uid2_app, name="uid2", help="UID2 tokens (decrypt, encrypt, keys) and identity jobs.")
    app.command("worker", help="Run the UID2 identity jobs (map, rotate, opt-out) on their schedules.")(
        identity_cli.worker)
    app.add_typer(mirror_app, name="mirror", help="Xandr mirror: run the sender, status, dead letters, removals.")
    app.add_typer(identities_app, name="identities", help="Callers: create, token, revoke, delete, list.")


_mount_subsystems()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
