"""Compile the hot path with mypyc, in place, and stamp what was compiled (see segments/compiled.py).

    python scripts/build_native.py [--root DIR] [--force] [--clean]

``--root`` is the directory holding ``segments/`` and ``server/`` (default: this checkout; the
Docker image points it at site-packages). On a terminal, a spinner on stderr names the step
running and the time elapsed (no ETA: neither step reports how far it is). Up to date → nothing
to do. Any failure leaves no binaries behind and exits 1: the server then runs the same modules
as plain Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["SEGMENT_SERVER_NATIVE"] = "0"  # this process must not load the binaries it replaces

from segments import compiled  # after the environment switch above


def clean(root: Path) -> None:
    for module in compiled.MODULES:
        for path in compiled.binary_paths(module, root):
            path.unlink()
    for path in (root / "segments").glob("_native__mypyc*"):
        path.unlink()
    compiled.stamp_path(root).unlink(missing_ok=True)


def up_to_date(root: Path) -> bool:
    previous, os.environ[compiled.ENV_SWITCH] = os.environ[compiled.ENV_SWITCH], "1"
    try:
        return compiled.check(root) == "compiled"
    finally:
        os.environ[compiled.ENV_SWITCH] = previous


def build(root: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    from segments.progress import stage

    with stage(f"native: mypyc: type-checking and generating C for {len(compiled.MODULES)} modules") as step:
        _build(root, mypycify, setup, step)


def _build(root: Path, mypycify: Any, setup: Any, step: Callable[[str], None]) -> None:
    """The two long steps (about 19 s together): mypyc writes C, then the C compiler builds it."""
    sources = [str(compiled.source_path(m, root).relative_to(root)) for m in compiled.MODULES]
    stamp = compiled.fingerprint(compiled.MODULES, root)  # digests of what is about to be compiled
    work = Path(tempfile.mkdtemp(prefix="segment-native-"))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        extensions = mypycify(["--ignore-missing-imports", *sources], opt_level="3",
                              group_name=compiled.GROUP,
                              target_dir=str(work / "c"))
        step("native: compiling the generated C (one shared library)")
        setup(name="segment-server-native", ext_modules=extensions, packages=[],
              script_args=["--quiet", "build_ext", "--inplace", "--build-temp", str(work / "o")])
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    compiled.write_stamp(stamp, root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--clean", action="store_true", help="remove the binaries and stamp, build nothing")
    args = parser.parse_args()
    root = args.root.resolve()
    if args.clean:
        clean(root)
        print("native: removed; the hot path runs as plain Python")
        return 0
    if not args.force and up_to_date(root):
        print("native: up to date")
        return 0
    clean(root)
    started = time.perf_counter()
    try:
        build(root)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 -- no compiler, no mypy, a mypyc error: fall back, loudly
        clean(root)
        print(f"native: build failed ({type(exc).__name__}: {exc}); the hot path runs as plain Python",
              file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"native: compiled {len(compiled.MODULES)} modules with mypyc in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
