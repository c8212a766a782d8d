"""The harness end to end, briefly: real servers on loopback, a few hundred requests, files written.

These prove the harness works; they never assert on speed (the machine may be busy).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from loadtest import bench_all, generator, servers, stack, traffic

pytestmark = pytest.mark.slow


def test_generator_against_ours_with_the_index_mix(tmp_path: Path) -> None:
    with stack.prepare(tmp_path, users=300) as sut, stack.start(sut, 1, log_dir=tmp_path / "logs") as ours:
        mix = traffic.build(sut.plan, count=100, bearer=sut.bearer, uid2_document=sut.uid2_document)
        result = generator.run(mix, rate=150, seconds=1.0, port=ours.port, timeout=5.0, max_requests=150)
        memory = servers.memory(ours.worker_pids()[0])
    assert result["sent"] == 150
    assert result["status"] == {"200": 150}, result["errors"]
    assert result["latency_ms"]["p50"] > 0
    assert memory["uss"] > 0 and memory["rss"] >= memory["uss"]


def test_bench_all_quick_writes_json_markdown_and_chart(tmp_path: Path) -> None:
    bench_all.main(["--quick", "--skip", "others", "--results-dir", str(tmp_path)])
    data = orjson.loads((tmp_path / "latest.json").read_bytes())
    assert list(data)[:4] == ["rtd_vs_bare", "segments_vs_bare", "store_p99_us", "commit"]
    assert data["commit"] and data["store_p99_us"] is not None
    assert {r["endpoint"] for r in data["http"]["runs"]} == {"rtd", "segments"}
    for run in data["http"]["runs"]:
        assert set(run["targets"]) == {"bare·uvicorn", "bare·granian", "ours·uvicorn", "ours·granian"}
        for target in run["targets"].values():
            assert target["steps"] and all(s["completed"] > 0 for s in target["steps"])
        for engine in ("uvicorn", "granian"):
            answers = run["answers"][f"ours·{engine}"]
            assert answers["status"] == {"200": answers["sampled"]}
    assert data["soak"]["requests"] > 0
    assert data["store"]["sizes"][0]["lookup"]["lookups"] > 0
    assert "| area | measurement |" in (tmp_path / "latest.md").read_text()
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")


def test_in_process_comparison_runs_both_apps_on_the_same_requests() -> None:
    from loadtest import bench_inproc

    result = bench_inproc.run("rtd", requests=200, users=300)
    assert result["requests"] == 2000  # at least one pass over the 2000 prepared requests
    assert result["ours"]["mean_us"] > 0 and result["bare"]["mean_us"] > 0


def test_instruction_count_driver_runs_both_apps(tmp_path: Path) -> None:
    """The driver callgrind runs, without callgrind: both apps answer the mix without an error."""
    import subprocess
    import sys

    from loadtest import bench_icount

    with stack.prepare(tmp_path, users=300) as sut:
        config, env = bench_icount.write_config(sut, tmp_path), bench_icount.environment(sut, tmp_path)
        for target in bench_icount.TARGETS:
            proc = subprocess.run([sys.executable, bench_icount.__file__, "--inner", str(config), target,
                                   "rtd",
                                   "20", "1"], env=env, capture_output=True, text=True, check=False)
            assert proc.returncode == 0, proc.stderr[-2000:]


def test_instruction_count_says_why_without_valgrind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loadtest import bench_icount

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no valgrind on this PATH
    assert "valgrind" in bench_icount.run(["rtd"], requests=10, rounds=1, users=300)["skipped"]
