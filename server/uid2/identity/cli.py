"""``segment-server uid2 map|rotate|optout|status|worker``: the identity jobs by hand or on a schedule.

Mount with ``uid2_app.add_typer(server.uid2.identity.cli.app)`` (commands join the ``uid2`` group)
and, for the top-level ``segment-server worker``, ``app.command("worker")(identity_cli.worker)``.
Output is one JSON object per line. Settings are read as every command reads them
(:mod:`server.cli_settings`); credentials come from ``[uid2]`` / ``[identity]`` or the
``UID2_*`` / ``UID2_IDENTITY_*`` environment variables, never from the command line. A job that
lacks them exits 2 saying which setting to give and how.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from server.cli_settings import exit_unconfigured, load_or_exit
from server.cluster.errors import ClusterUnavailable
from server.cluster.settings import ClusterSettings
from server.errors import SettingsError
from server.sections import hint

from ..settings import UID2Settings, secret_hint
from .mapping import IdentityDB
from .settings import IdentitySettings
from .types import JobName
from .worker import IdentityWorker, exclusive, open_jobs

OptOutHook = Callable[[list[str]], None]

__all__ = ["app", "worker"]

app = typer.Typer(help="UID2 identity: map DII, follow rotation, honour opt-outs.", no_args_is_help=True,
                  add_completion=False)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="TOML layered over config/default.toml")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="override store.data_dir")]
NowOpt = Annotated[bool, typer.Option("--now", help="run now even if the schedule says it is not due")]


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(orjson.dumps(obj).decode())


def _load_all(config: Path | None, data_dir: Path | None
              ) -> tuple[Path, IdentitySettings, UID2Settings, OptOutHook | None]:
    root, identity, uid2, hook, _ = _load_with_cluster(config, data_dir)
    return root, identity, uid2, hook


def _load_with_cluster(config: Path | None, data_dir: Path | None
                       ) -> tuple[Path, IdentitySettings, UID2Settings, OptOutHook | None, ClusterSettings]:
    from server.optout_removals import xandr_removal_hook

    settings = load_or_exit(config, store={"data_dir": str(data_dir)} if data_dir else {})
    # Opted-out users' linked Xandr ids are queued for removal (expiration -1) when the mirror is on.
    hook = xandr_removal_hook(settings.data_dir, settings.mirror)
    return settings.data_dir, settings.identity, settings.uid2, hook, settings.cluster


@contextlib.asynccontextmanager
async def _clustered(cluster: ClusterSettings, root: Path) -> AsyncIterator[dict[str, Any]]:
    """With ``[cluster]`` on: the lease runner and the stream writer for the jobs (redis-py imported here)."""
    if not cluster.enabled:
        yield {}
        return
    from server.cluster.jobs import ClusterJobs, StreamWriter, apply_pending

    try:
        await asyncio.to_thread(apply_pending, root, cluster)  # read the store as every node has it
    except ClusterUnavailable as exc:  # no job runs without the lease anyway; the worker retries
        typer.echo(f"warning: {exc}; identity jobs wait for the engine", err=True)
    lease, writer = ClusterJobs(cluster), StreamWriter(root, cluster)
    try:
        yield {"cluster": lease, "writer": writer, "checkpoint": lease.checkpoint}
    finally:
        writer.close()
        await lease.aclose()


def _require_operator(identity: IdentitySettings, uid2: UID2Settings, why: str) -> None:
    """Exit 2 naming each missing operator credential, and how to set it."""
    operator = identity.operator_settings(uid2)
    problems = [] if operator.api_key else [f"uid2.api_key: {why}: {hint('uid2', 'api_key')}"]
    if not (operator.secret or operator.secret_file):
        problems.append(f"uid2.secret: {why}: {secret_hint('uid2')}")
    if problems:
        exit_unconfigured(problems)


def _run(name: JobName, now: bool, config: Path | None, data_dir: Path | None) -> None:
    root, identity, uid2, on_optout, cluster = _load_with_cluster(config, data_dir)
    _require_operator(identity, uid2, f"required by `segment-server uid2 {name}`")

    async def go() -> int:
        try:
            async with _clustered(cluster, root) as extra, open_jobs(
                    root, identity, uid2, on_optout=on_optout, **_job_options(extra)) as jobs:
                runner = IdentityWorker(jobs, identity, root, cluster=extra.get("cluster"))
                if not now and jobs.clock() < runner.next_due(name):
                    _emit({"job": name, "skipped": "not due", "next_due": runner.next_due(name)})
                    return 0
                with exclusive(root, wait=False) as got:
                    if not got:
                        _emit({"job": name, "skipped": "another identity job holds the lock"})
                        return 3
                    report = await runner.run_one(name)
                    if report is None:
                        _emit({"job": name, "skipped": "another node holds the identity lease"})
                        return 3
        except SettingsError as exc:
            typer.echo(str(exc), err=True)
            return 2
        except ClusterUnavailable as exc:  # no lease, or a write every node must see was refused
            _emit({"job": name, "error": str(exc)})
            return 1
        _emit(report.as_dict())
        return 1 if report.error else 0

    raise typer.Exit(asyncio.run(go()))


def _job_options(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k != "cluster"}


@app.command("map")
def map_(now: NowOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Map DII waiting for a first mapping (POST /v3/identity/map, or v2)."""
    _run("map", now, config, data_dir)


@app.command()
def rotate(now: NowOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Remap rotated users (v3: ``r`` passed; v2: buckets since the cursor) and re-key them."""
    _run("rotate", now, config, data_dir)


@app.command()
def optout(now: NowOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Check stored raw UID2s with POST /v2/optout/status; drop and record the opted-out ones."""
    _run("optout", now, config, data_dir)


@app.command()
def status(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Counts per state and unmapped reason, opt-outs, and each job's last run and error."""
    root, _identity, _uid2, _hook, cluster = _load_with_cluster(config, data_dir)
    db = IdentityDB(root)
    try:
        out: dict[str, Any] = {"counts": db.counts(), "jobs": db.job_status(), "cursors": {
            n: db.cursor(n) for n in ("v2.since", "optout.after", "optout.completed")}}
    finally:
        db.close()
    if cluster.enabled:  # the job that runs or ran last anywhere in the cluster, and who holds the lease
        out["cluster"] = asyncio.run(_cluster_progress(cluster))
    _emit(out)


async def _cluster_progress(cluster: ClusterSettings) -> dict[str, Any]:
    from server.cluster.engine import EngineError
    from server.cluster.jobs import ClusterJobs

    jobs = ClusterJobs(cluster)
    try:
        return {"progress": await jobs.progress() or None}
    except EngineError as exc:
        return {"error": f"cluster engine unreachable ({exc or type(exc).__name__})"}
    finally:
        await jobs.aclose()


@app.command()
def worker(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Run the identity jobs on their schedules until SIGTERM/SIGINT."""
    root, identity, uid2, on_optout, cluster = _load_with_cluster(config, data_dir)
    if not identity.enabled:
        off = "identity.enabled: `segment-server worker` runs the UID2 identity jobs, which are off"
        exit_unconfigured([f"{off}: {hint('identity', 'enabled', 'true')}"])
    _require_operator(identity, uid2, "required by `segment-server worker`")

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with _clustered(cluster, root) as extra, open_jobs(
                root, identity, uid2, on_optout=on_optout, **_job_options(extra)) as jobs:
            await IdentityWorker(jobs, identity, root, cluster=extra.get("cluster")).run_forever(stop)

    try:
        asyncio.run(go())
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
