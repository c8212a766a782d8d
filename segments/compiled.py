"""The hot path's optional mypyc build: used only when it was built from the sources on disk.

``scripts/build_native.py`` compiles :data:`MODULES` (parse → gate → lookup → respond for
``/rtd`` and ``/segments``) with mypyc, the compiler mypy and black ship with, into extension
modules next to their ``.py`` files; Python's import system then prefers them. Profiling left no
single hot spot in that path, and the compiled build cuts its in-process cost by about a third
(README, "Benchmarks"). It is an optimisation, never a requirement: without a C compiler, or
with ``SEGMENT_SERVER_NATIVE=0``, the same modules run as plain Python.

The danger of any in-place build is a stale binary: edit ``server/rtd.py``, forget to rebuild,
and the old code keeps answering. So the build writes a stamp (:func:`stamp_path`) with a SHA-256 of every
source it compiled, and :func:`install` (run when ``segments`` is first imported, before any of
these modules can be) compares it with the files on disk. Any difference — or any module's
binary missing — and a meta-path finder loads *all* of them from source: mypyc links the group
together, so a half-compiled set would call the stale code of its compiled neighbours.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Final

import orjson

# The modules every /rtd and /segments request runs through, in dependency order.
MODULES: Final = (
    "segments.keys",
    "segments.bounded",
    "server.observability.hotpath",
    "segments.store.schema",
    "segments.store.sqlite",
    "server.auth.guard",
    "server.signals",
    "server.uid2.tokens",
    "server.uid2.decrypt",
    "server.openrtb",
    "server.openrtb_typed",
    "server.lookup",
    "server.http",
    "server.dispatch",
    "server.rtd",
    "server.cached_api",
    "server.protocol",
    "server.direct",
)
GROUP: Final = "segments._native"  # mypyc's shared library: segments/_native__mypyc.*.so
ROOT: Final = Path(__file__).resolve().parent.parent  # the directory holding segments/ and server/
ENV_SWITCH: Final = "SEGMENT_SERVER_NATIVE"  # "0" forces plain Python

_state: str | None = None


def source_path(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def binary_paths(module: str, root: Path = ROOT) -> list[Path]:
    base = root.joinpath(*module.split("."))
    return [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if (p := base.with_name(base.name + suffix)).exists()]


def stamp_path(root: Path = ROOT) -> Path:
    return root / "segments" / "_native.json"


def write_stamp(stamp: dict[str, str], root: Path = ROOT) -> None:
    stamp_path(root).write_bytes(orjson.dumps(stamp, option=orjson.OPT_INDENT_2))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(modules: Sequence[str] = MODULES, root: Path = ROOT) -> dict[str, str]:
    """What the stamp records: the interpreter's ABI and a digest of every compiled source."""
    stamp = {"abi": importlib.machinery.EXTENSION_SUFFIXES[0]}
    stamp.update({module: digest(source_path(module, root)) for module in modules})
    return stamp


def check(root: Path = ROOT, modules: Sequence[str] = MODULES) -> str:
    """``"compiled"``, or why the hot path runs as plain Python (also shown in ``/status``)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return f"python ({ENV_SWITCH}=0)"
    built = [m for m in modules if binary_paths(m, root)]
    if not built:
        return "python (not built: make native)"
    try:
        stamp = orjson.loads(stamp_path(root).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return "python (build stamp missing: make native)"
    missing = [m for m in modules if m not in built]
    if missing:
        return f"python (no binary for {missing[0]}: make native)"
    try:
        current = fingerprint(modules, root)
    except OSError as exc:
        return f"python (cannot read a source: {exc.strerror})"
    changed = [m for m in modules if stamp.get(m) != current[m]]
    if changed:
        return f"python (stale build: {changed[0]} changed since; make native)"
    if stamp.get("abi") != current["abi"]:
        return "python (built for another interpreter: make native)"
    return "compiled"


class _SourceFirst:
    """A meta-path finder that loads :data:`MODULES` from their ``.py`` files, ignoring binaries."""

    def __init__(self, root: Path, modules: Sequence[str]) -> None:
        self.root = root
        self.modules = frozenset(modules)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname, self.root))


def install() -> str:
    """Decide once per process, before the first hot-path import; returns :func:`state`."""
    global _state
    if _state is None:
        _state = check()
        if _state != "compiled":  # with no binaries the finder finds what the default one would
            sys.meta_path.insert(0, _SourceFirst(ROOT, MODULES))
    return _state


def state() -> str:
    """How the hot path runs in this process: ``"compiled"`` or ``"python (<why>)"``."""
    return install()
