"""The mypyc build is used only when it matches the sources on disk, as one unit."""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segments import compiled

MODULES = ("pkg.alpha", "pkg.sub.beta")
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def native_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(compiled.ENV_SWITCH, raising=False)


def make_sources(root: Path) -> None:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "segments").mkdir()
    (root / "pkg" / "alpha.py").write_text("A = 1\n")
    (root / "pkg" / "sub" / "beta.py").write_text("B = 2\n")


def make_binaries(root: Path, modules: tuple[str, ...] = MODULES) -> None:
    for module in modules:
        base = root.joinpath(*module.split("."))
        base.with_name(base.name + SUFFIX).write_bytes(b"\x7fELF")


def write_stamp(root: Path, **override: str) -> None:
    compiled.write_stamp(compiled.fingerprint(MODULES, root) | override, root)


def test_not_built(tmp_path: Path) -> None:
    make_sources(tmp_path)
    assert compiled.check(tmp_path, MODULES) == "python (not built: make native)"


def test_binaries_without_a_stamp_are_not_trusted(tmp_path: Path) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path)
    assert compiled.check(tmp_path, MODULES) == "python (build stamp missing: make native)"


def test_a_matching_build_is_used(tmp_path: Path) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path)
    write_stamp(tmp_path)
    assert compiled.check(tmp_path, MODULES) == "compiled"


def test_an_edited_source_makes_the_whole_build_stale(tmp_path: Path) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path)
    write_stamp(tmp_path)
    (tmp_path / "pkg" / "sub" / "beta.py").write_text("B = 3\n")
    stale = "python (stale build: pkg.sub.beta changed since; make native)"
    assert compiled.check(tmp_path, MODULES) == stale


def test_a_missing_binary_makes_the_whole_build_unusable(tmp_path: Path) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path, MODULES[:1])
    write_stamp(tmp_path)
    assert compiled.check(tmp_path, MODULES) == "python (no binary for pkg.sub.beta: make native)"


def test_a_build_for_another_interpreter_is_not_used(tmp_path: Path) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path)
    write_stamp(tmp_path, abi=".cpython-39-x86_64-linux-gnu.so")
    assert compiled.check(tmp_path, MODULES) == "python (built for another interpreter: make native)"


def test_the_switch_forces_plain_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_sources(tmp_path)
    make_binaries(tmp_path)
    write_stamp(tmp_path)
    monkeypatch.setenv(compiled.ENV_SWITCH, "0")
    assert compiled.check(tmp_path, MODULES) == "python (SEGMENT_SERVER_NATIVE=0)"


def test_the_finder_loads_listed_modules_from_source(tmp_path: Path) -> None:
    make_sources(tmp_path)
    finder = compiled._SourceFirst(tmp_path, MODULES)
    spec = finder.find_spec("pkg.sub.beta")
    assert spec is not None and spec.origin == str(tmp_path / "pkg" / "sub" / "beta.py")
    assert finder.find_spec("pkg.other") is None


def _hot_path_in_subprocess(root: Path, env: dict[str, str]) -> tuple[str, str]:
    code = ("import server.rtd, server.http, segments.compiled as c; print(c.state()); "
            "print(server.rtd.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root), **env}, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return out[0], out[1]


def test_this_checkout_runs_what_its_state_says() -> None:
    state, rtd_file = _hot_path_in_subprocess(REPO, {compiled.ENV_SWITCH: "1"})
    assert rtd_file.endswith(".so") == (state == "compiled")
    state, rtd_file = _hot_path_in_subprocess(REPO, {compiled.ENV_SWITCH: "0"})
    assert state == "python (SEGMENT_SERVER_NATIVE=0)" and rtd_file.endswith("rtd.py")


def test_a_stale_checkout_serves_its_sources(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:  # the plain-Python pass (NATIVE=0) still has the build
        mp.setenv(compiled.ENV_SWITCH, "1")
        state = compiled.check(REPO)
    if state != "compiled":
        pytest.skip(f"no compiled build in this checkout (make native): {state}")
    for package in ("segments", "server"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "server" / "http.py").open("a") as f:
        f.write("# edited after the build\n")
    state, rtd_file = _hot_path_in_subprocess(tmp_path, {compiled.ENV_SWITCH: "1"})
    assert state == "python (stale build: server.http changed since; make native)"
    # an unchanged neighbour is not used compiled either
    assert rtd_file == str(tmp_path / "server" / "rtd.py")
