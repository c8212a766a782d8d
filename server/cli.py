"""``segment-server``: the one command ops need — serve, load, inspect, and each subsystem's tools."""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import orjson
import typer

from server.cli_settings import load_or_exit
from server.config import ENV_PREFIX, Settings

app = typer.Typer(help="Index Exchange data-partner segment server.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="TOML file layered over config/default.toml")]


class LogFormatOpt(enum.StrEnum):
    json = "json"
    console = "console"


def _settings(config: Path | None, **overrides: Mapping[str, object]) -> Settings:
    return load_or_exit(config, **overrides)


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="bind address (default from config)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes")] = None,
    engine: Annotated[str | None, typer.Option(help="uvicorn or granian; default [server] engine")] = None,
    log_format: Annotated[LogFormatOpt | None, typer.Option(
        help="json (one object per line) or console; default observability.log_format")] = None,
) -> None:
    """Validate the configuration once, then start the ``[server] engine`` (workers share the store,
    not copies)."""
    server = {k: v for k, v in (("host", host), ("port", port), ("workers", workers), ("engine", engine))
              if v is not None}
    observability = {"log_format": log_format.value} if log_format is not None else {}
    settings = _settings(config, server=server, observability=observability)
    if config is not None:
        os.environ[ENV_PREFIX + "CONFIG"] = str(config.resolve())
    for key, value in server.items():
        os.environ[f"{ENV_PREFIX}SERVER__{key.upper()}"] = str(value)
    for key, value in observability.items():  # spawned workers load the settings again
        os.environ[f"{ENV_PREFIX}OBSERVABILITY__{key.upper()}"] = value
    _start_logging(settings)
    _check_store(settings)  # before any worker: exit 1 naming the file when no snapshot can serve
    from server.auth import startup_problem  # a damaged auth db: named, exit 1, before any worker

    if (problem := startup_problem(settings.data_dir)) is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    _prepare_metrics_dir(settings)
    from server import serving
    from server.observability import settings_of

    serving.run(settings, settings.server.log_level, settings_of(settings).log_format)


def _start_logging(settings: Settings) -> None:
    """One log format for the whole run: this process now; the engine's loggers and workers follow
    (:mod:`server.serving` hands each engine the matching log config)."""
    import structlog

    from segments import compiled
    from server.observability import settings_of
    from server.observability.logging import configure_logging

    level, fmt = settings.server.log_level, settings_of(settings).log_format
    configure_logging(level, fmt)
    state = compiled.state()  # or why it runs as plain Python
    structlog.get_logger("server.cli").info("hot_path", state=state, engine=settings.server.engine)


def _prepare_metrics_dir(settings: Settings) -> None:
    """Where this run's workers count: in memory (one worker) or a per-run directory (several).

    Deletes nothing a running server uses, so it is safe before the engine owns the port; the run's
    directory is removed when this process exits. See :mod:`server.observability.metrics_dir`.
    """
    import structlog

    from server.observability import metrics_dir

    workers = settings.server.workers
    path = metrics_dir.prepare(settings.data_dir / "metrics", workers)
    structlog.get_logger("server.cli").info("metrics", workers=workers, multiprocess_dir=path)


def _check_store(settings: Settings) -> None:
    """The store every worker will open (issue 25): a missing or damaged snapshot is named in the
    log and the newest good one serves instead (``[store] fallback``), or the command exits 1
    naming it on stderr."""
    import structlog

    from segments.store import StoreError
    from segments.store.preflight import preflight

    s = settings.store
    try:
        notes = preflight(settings.data_dir, fallback=s.fallback, verify=s.verify_on_open)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    log = structlog.get_logger("server.cli")
    for note in notes:  # in the run's one log format; a fallback is a warning
        (log.warning if note.startswith("store: WARNING") else log.info)("store.preflight", note=note)


@app.command()
def load(
    files: Annotated[list[Path], typer.Argument(help="membership files: CSV/JSONL, optionally .gz")] = [],  # noqa: B006
    taxonomy: Annotated[list[Path], typer.Option("--taxonomy", "-t", help="taxonomy JSON/CSV/JSONL")] = [],  # noqa: B006
    replace: Annotated[bool, typer.Option(help="start from an empty snapshot instead of merging")] = False,
    config: ConfigOpt = None,
    data_dir: Annotated[Path | None, typer.Option(help="override store.data_dir")] = None,
    max_rejected: Annotated[str | None, typer.Option(
        help="most rejected rows before nothing is published: a count (25) or a share (0.5%); "
             "default 0 with --replace, 1% otherwise")] = None,
    max_rejects_shown: int = 50,
) -> None:
    """Bulk-load into a new snapshot and publish it atomically; rejected rows are listed by line.

    Exits 1 and publishes nothing when more rows are rejected than ``--max-rejected`` allows.
    """
    from segments import progress as bars
    from segments.loader import LoadError
    from segments.loader import load as run_load
    from segments.reading import input_bytes
    from segments.rejects import RejectLimit, TooManyRejected
    from segments.rows import RowError
    from segments.store import StoreError

    settings = _settings(config, store={"data_dir": str(data_dir)} if data_dir else {})
    if not files and not taxonomy:
        typer.echo("nothing to load: give membership files and/or --taxonomy", err=True)
        raise typer.Exit(2)
    try:
        limit = RejectLimit.parse(max_rejected) if max_rejected else RejectLimit.default(replace=replace)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    total = input_bytes(files)
    try:
        with bars.bar("loading", total or None, unit="bytes", count_unit="rows") as update:
            rows_read = [0]

            def on_rows(n: int) -> None:
                rows_read[0] = n

            report = run_load(settings.data_dir, files, taxonomy, mode="replace" if replace else "merge",
                              progress=on_rows, max_rejected=limit,
                              progress_bytes=lambda b: update(b, rows=rows_read[0],
                                                              description=_phase(b, total)))
    except TooManyRejected as exc:
        _show_rejected(exc.rejected, max_rejects_shown)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (LoadError, RowError, StoreError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    _show_rejected(report.rejected, max_rejects_shown)
    typer.echo(orjson.dumps({"version": report.version, "rows": report.rows, "keys": report.keys,
                             "segments": report.segments, "rejected": len(report.rejected),
                             "seconds": round(report.seconds, 3), "snapshot": report.path}).decode())


def _phase(done: int, total: int) -> str:
    """All input read: the rest is SQLite sorting and writing the snapshot (a third of a big load)."""
    return "writing snapshot" if total and done >= total else "loading"


def _show_rejected(rejected: Sequence[object], shown: int) -> None:
    """The first rejected rows as ``file:line: reason``, then how many more."""
    for row in rejected[:shown]:
        typer.echo(f"rejected {row}", err=True)
    if len(rejected) > shown:
        typer.echo(f"… and {len(rejected) - shown} more rejected rows", err=True)


@app.command()
def stats(config: ConfigOpt = None,
          by_kind: bool = typer.Option(True, help="count keys per kind (scans)")) -> None:
    """Print the serving snapshot: version, age, keys per kind, segments (and any problem with it)."""
    import time

    from segments.store import SQLiteStore, StoreError

    settings = _settings(config)
    try:
        store = SQLiteStore(settings.data_dir, verify=settings.store.verify_on_open,
                            fallback=settings.store.fallback)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    info = store.info
    health = store.health()
    out: dict[str, object] = {"version": info.version, "age_seconds": round(time.time() - info.created_at, 1),
                              "keys": info.members, "segments": info.segments, "path": info.path,
                              "ip_prefix_lengths": sorted(store.ip_prefix_lengths), "state": health.state}
    if health.state != "ok":
        out["problem"] = health.detail
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
    from segments import progress as bars
    from segments.loader import load as run_load
    from segments.reading import input_bytes
    from segments.rejects import RejectLimit

    settings = _settings(config)
    target = out_dir or Path(tempfile.mkdtemp(prefix="segserver-demo-"))
    with bars.bar("generating", demo_data.row_count(users)) as update:
        tax, mem = demo_data.write(target, users, seed, progress=update)
    size = input_bytes([mem])
    with bars.bar("loading", size, unit="bytes", count_unit="rows") as update:
        rows_read = [0]

        def on_rows(n: int) -> None:
            rows_read[0] = n

        report = run_load(settings.data_dir, [mem], [tax], mode="replace", progress=on_rows,
                          max_rejected=RejectLimit.default(replace=True),
                          progress_bytes=lambda b: update(b, rows=rows_read[0], description=_phase(b, size)))
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
    from server.cluster.cli import app as cluster_app
    from server.mirror.cli import app as mirror_app
    from server.uid2.cli import app as uid2_app
    from server.uid2.identity import cli as identity_cli

    uid2_app.add_typer(identity_cli.app)  # uid2 map | rotate | optout | status | worker
    app.add_typer(uid2_app, name="uid2", help="UID2 tokens (decrypt, encrypt, keys) and identity jobs.")
    app.command("worker", help="Run the UID2 identity jobs (map, rotate, opt-out) on their schedules.")(
        identity_cli.worker)
    app.add_typer(mirror_app, name="mirror",
                  help="Xandr mirror: run the sender, status, dead letters, removals.")
    app.add_typer(identities_app, name="identities", help="Callers: create, token, revoke, delete, list.")
    app.add_typer(cluster_app, name="cluster", help="Scale-out: publish a snapshot to every node; status.")


_mount_subsystems()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
