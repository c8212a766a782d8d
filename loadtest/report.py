"""Shared output helpers: the machine description, JSON writing, markdown tables, the chart."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers were measured on (and how busy it was when the run started)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gib = 0.0
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": mem_gib,
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_at_start": load, "git_commit": _git_commit()}


def loadavg() -> list[str]:
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return []


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=RESULTS.parent.parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    tmp.replace(path)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def latency_chart(runs: list[dict[str, Any]], path: Path, budget_ms: float = 5.0) -> Path | None:
    """Latency percentiles against offered load, one panel per (workers, endpoint), bare vs ours."""
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = sorted({r["workers"] for r in runs})
    endpoints = sorted({r["endpoint"] for r in runs})
    fig, axes = plt.subplots(len(workers), len(endpoints), figsize=(6.5 * len(endpoints), 4.2 * len(workers)),
                             squeeze=False)
    styles = {"p50": ":", "p99": "-", "p99_9": "--"}
    colours = {"bare·uvicorn": "tab:gray", "bare·granian": "tab:olive", "ours·uvicorn": "tab:blue",
               "ours·granian": "tab:orange", "null·uvloop": "tab:green"}
    for run in runs:
        ax = axes[workers.index(run["workers"])][endpoints.index(run["endpoint"])]
        for name, target in run["targets"].items():
            steps = sorted((s for s in target["steps"] if s["completed"]), key=lambda s: s["offered_rate"])
            if not steps:
                continue
            xs = [s["offered_rate"] for s in steps]
            for pct, style in styles.items():
                ys = [max(s["latency_ms"][pct], 1e-3) for s in steps]
                ax.plot(xs, ys, style, marker="o", markersize=3, color=colours.get(name),
                        label=f"{name} {pct.replace('_', '.')}")
            if target.get("max_rate"):
                ax.axvline(target["max_rate"], color=colours.get(name, "k"), alpha=0.3)
        ax.axhline(budget_ms, color="tab:red", linewidth=0.8, alpha=0.6)
        ax.set_yscale("log")
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("latency (ms, from intended send time)")
        ax.set_title(f"{run['endpoint']} — {run['workers']} worker{'s' if run['workers'] > 1 else ''}")
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
