"""Every command ``segment-server --help`` lists, run as a subprocess: once on the happy path and
once on its most likely user error, checking the exit code and what the user reads.

Configuration comes only from ``SEGMENT_SERVER_CONFIG`` (a temp file naming the data dir, the fake
UID2 operator and the fake Xandr on loopback), as for an operator's shell; a command that ignored it
would look in ``./data`` of its working directory (an empty temp dir) and fail these checks.

One data dir (issue 27): every command runs with a throwaway ``HOME`` and an empty working
directory and nothing of the parent's environment but ``PATH``; after each, the only files
created or changed in the test's temp tree are under ``[store] data_dir`` or named on its command
line (``uid2 keys --save FILE``), and ``HOME`` and the working directory are still empty.
``serve`` is the subject of test_serve.py / test_config.py; it is listed here so that
:func:`test_every_listed_command_is_covered` keeps this table complete.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.fake_servers import SECRET, OperatorApp, fresh_sharing_keys
from tests.e2e.harness import CLI, cli_env, run_cli, wait_for, write_config
from tests.fakes.uid2_operator import FakeUID2Operator
from tests.fakes.xandr import FakeXandr, LoopbackServer

RAW_UID2 = "AdNJ41yOVH7B5hbGTVN1w0oUEZmJ9h9PPvM+8sTpN4k="
LONG_RUNNING_DEADLINE = 30.0


@dataclass
class Env:
    tmp: Path
    config: Path
    data_dir: Path
    home: Path  # throwaway $HOME, must stay empty
    cwd: Path  # the commands' working directory, must stay empty
    keys: Path
    identity_id: str
    operator: FakeUID2Operator
    xandr: FakeXandr

    def fill(self, args: tuple[str, ...]) -> list[str]:
        values = {"tmp": str(self.tmp), "keys": str(self.keys), "identity": self.identity_id,
                  "token": "{token}"}
        return [a.format(**values) for a in args]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("cli")
    operator = FakeUID2Operator(secret=SECRET, keys={"/v2/key/sharing": fresh_sharing_keys(),
                                                     "/v2/key/bidstream": fresh_sharing_keys()})
    xandr = FakeXandr()
    keys = tmp / "sharing-keys.json"
    keys.write_text(json.dumps(fresh_sharing_keys()))
    (tmp / "members.csv").write_text("kind,key,segments,expires\nurl,example.com/cli,news_readers,\n")
    (tmp / "damaged.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage, not gzip")
    with LoopbackServer(OperatorApp(operator)) as op_base, LoopbackServer(xandr) as xandr_base:
        config = write_config(tmp / "segment-server.toml", {
            "store": {"data_dir": str(tmp / "data")},
            "uid2": {"enabled": True, "base_url": op_base, "api_key": operator.api_key,
                     "secret": base64.b64encode(SECRET).decode(), "client_type": "sharing"},
            "identity": {"enabled": True},
            "mirror": {"enabled": True, "api_url": xandr_base, "streaming_url": xandr_base,
                       "username": xandr.username, "password": xandr.password},
        })
        home, cwd = tmp / "home", tmp / "cwd"
        home.mkdir(), cwd.mkdir()
        done = run_cli(config, "demo", "--users", "50", cwd=cwd, home=home)
        assert done.returncode == 0, done.stderr
        created = run_cli(config, "identities", "create", "--name", "cli-test", "-s", "rtd", "--no-secret",
                          cwd=cwd, home=home)
        assert created.returncode == 0, created.stderr
        yield Env(tmp, config, tmp / "data", home, cwd, keys, json.loads(created.stdout)["identity"]["id"],
                  operator, xandr)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # a regular expression the user must read (stdout + stderr)


def case(*args: str, code: int = 0, says: str = "") -> Case:
    return Case(args, code, says)


# (command path) → (happy path, most likely user error)
ONE_SHOT: dict[str, tuple[Case, Case]] = {
    "load": (case("load", "{tmp}/members.csv", says=r'"rejected": ?0'),
             case("load", "{tmp}/damaged.csv.gz", code=1, says=r"damaged\.csv\.gz")),
    "stats": (case("stats", says=r'"keys_by_kind"'),
              case("stats", "--by-kind", "extra", code=2, says=r"(?i)unexpected extra argument")),
    "demo": (case("demo", "--users", "20", says=r'"rejected": ?0'),
             case("demo", "--users", "many", code=2, says=r"(?i)--users.*valid integer")),
    "demo-token": (case("demo-token", says=r"^ss1_\S+\s*$"),
                   case("demo-token", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "identities create": (case("identities", "create", "--name", "index", "-s", "rtd", "-s", "segments",
                               says=r'"client_secret": "\S+'),
                          case("identities", "create", "--name", "x", "-s", "bogus", code=1,
                               says=r"unknown scope.*bogus")),
    "identities token": (case("identities", "token", "{identity}", "-s", "rtd", says=r'"token": "ss1_'),
                         case("identities", "token", "0" * 32, code=2, says=r"not found")),
    "identities list": (case("identities", "list", says=r'"display_name": "cli-test"'),
                        case("identities", "list", "--config", "{tmp}/missing.toml", code=2,
                             says=r"missing\.toml")),
    "identities revoke": (case("identities", "revoke", "{identity}", says=r'"tokens_valid_from"'),
                          case("identities", "revoke", "f" * 32, code=2, says=r"not found")),
    "identities delete": (case("identities", "delete", "{identity}", says=r'"deleted"'),
                          case("identities", "delete", "e" * 32, code=2, says=r"not found")),
    "uid2 keys": (case("uid2", "keys", "--save", "{tmp}/fetched.json", says=r"(?i)keys"),
                  case("uid2", "keys", "--client-type", "nope", code=2, says=r"(?i)client-type")),
    "uid2 encrypt": (case("uid2", "encrypt", "--keys", "{keys}", RAW_UID2, says=r'"status": ?"SUCCESS"'),
                     case("uid2", "encrypt", "--keys", "{keys}", "not base64!", code=1, says=r"(?i)status")),
    "uid2 decrypt": (case("uid2", "decrypt", "--keys", "{keys}", "--client-type", "sharing", "{token}",
                          says=RAW_UID2.replace("+", r"\+")),
                     case("uid2", "decrypt", "--keys", "{keys}", "not-a-token", code=1,
                          says=r'"status": ?"(INVALID_PAYLOAD|VERSION_NOT_SUPPORTED)"')),
    "uid2 map": (case("uid2", "map", "--now", says=r'"job": ?"map"'),
                 case("uid2", "map", "--now", "--data-dir", "{tmp}/data", "--bogus", code=2,
                      says=r"--bogus")),
    "uid2 rotate": (case("uid2", "rotate", "--now", says=r'"job": ?"rotate"'),
                    case("uid2", "rotate", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "uid2 optout": (case("uid2", "optout", "--now", says=r'"job": ?"optout"'),
                    case("uid2", "optout", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "uid2 status": (case("uid2", "status", says=r'"counts"'),
                    case("uid2", "status", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "mirror status": (case("mirror", "status", "--json", says=r'"outbox": "[^"]*/data"'),
                      case("mirror", "status", "--config", "{tmp}/missing.toml", code=2,
                           says=r"missing\.toml")),
    "mirror retry-dead-letters": (case("mirror", "retry-dead-letters", says=r"requeued 0"),
                                  case("mirror", "retry-dead-letters", "--config", "{tmp}/missing.toml",
                                       code=2, says=r"missing\.toml")),
    "mirror remove": (case("mirror", "remove", "--user", "123", "--segment", "101", says=r"queued 1"),
                      case("mirror", "remove", "--user", "123", "--segment", "cars", code=2,
                           says=r"numeric Xandr seg_id")),
}

# Commands that run until SIGTERM: happy = starts, does its work, exits 0 on SIGTERM.
LONG_RUNNING: dict[str, tuple[tuple[str, ...], str, Case]] = {
    "worker": (("worker",), r"identity worker started",
               case("worker", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "uid2 worker": (("uid2", "worker"), r"identity worker started",
                    case("uid2", "worker", "--config", "{tmp}/missing.toml", code=2, says=r"missing\.toml")),
    "mirror run": (("mirror", "run"), r"mirror sender",
                   case("mirror", "run", "--posts-per-second", "1000", code=2, says=r"posts_per_second")),
}
COVERED_ELSEWHERE = {"serve": "test_serve.py (happy, workers 1 and 2), test_config.py (bad config)",
                     "cluster": "tests/cluster/test_cli.py (publish, status; needs an engine)"}


def _listed_commands() -> set[str]:
    """Command paths as ``--help`` lists them (typer's rich box: "│ name   help │")."""
    def names(*group: str) -> list[str]:
        text = subprocess.run([str(CLI), *group, "--help"], capture_output=True, text=True, check=True,
                              env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "TERM": "dumb"}).stdout
        section = text.split("Commands", 1)[1]
        return re.findall(r"^│ ([a-z][\w-]*)\s", section, flags=re.MULTILINE)

    out = set()
    for name in names():
        sub = names(name) if name in {"uid2", "mirror", "identities"} else []
        out.update(f"{name} {s}" for s in sub) if sub else out.add(name)
    return out


def test_every_listed_command_is_covered() -> None:
    assert _listed_commands() == set(ONE_SHOT) | set(LONG_RUNNING) | set(COVERED_ELSEWHERE)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: relative path → (mtime ns, size)."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file()}


def _touched_outside_data_dir(env: Env, before: dict[str, tuple[int, int]], args: list[str]) -> list[str]:
    """Files created or changed since ``before`` that are neither under the data dir nor named in ``args``."""
    named = {str(Path(a).relative_to(env.tmp)) for a in args if a.startswith(f"{env.tmp}/")}
    data = str(env.data_dir.relative_to(env.tmp)) + "/"
    after = _files(env.tmp)
    return sorted(name for name, stamp in after.items()
                  if before.get(name) != stamp and not name.startswith(data) and name not in named)


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env.config, *args, cwd=env.cwd, home=env.home)


def _run(env: Env, c: Case) -> None:
    args = env.fill(c.args)
    if "{identity}" in c.args:  # each case gets its own: one of them deletes it
        created = _cli(env, "identities", "create", "--name", "per-case", "-s", "rtd", "--no-secret")
        args = [json.loads(created.stdout)["identity"]["id"] if a == env.identity_id else a for a in args]
    if "{token}" in args:
        minted = _cli(env, "uid2", "encrypt", "--keys", str(env.keys), RAW_UID2)
        assert minted.returncode == 0, minted.stdout + minted.stderr
        args = [json.loads(minted.stdout)["token"] if a == "{token}" else a for a in args]
    before = _files(env.tmp)
    done = _cli(env, *args)
    said = done.stdout + done.stderr
    assert done.returncode == c.code, f"{args}: exit {done.returncode}\n{said[-2000:]}"
    assert re.search(c.says, said, flags=re.MULTILINE), f"{args}: expected /{c.says}/ in:\n{said[-2000:]}"
    assert "Traceback" not in said, said[-2000:]
    assert _touched_outside_data_dir(env, before, args) == [], f"{args} wrote outside the data dir"
    assert not any(env.cwd.iterdir()) and not any(env.home.iterdir()), f"{args} wrote into cwd or HOME"


@pytest.mark.parametrize("command", sorted(ONE_SHOT))
def test_happy_path(env: Env, command: str) -> None:
    _run(env, ONE_SHOT[command][0])


@pytest.mark.parametrize("command", sorted(ONE_SHOT) + sorted(LONG_RUNNING))
def test_most_likely_user_error(env: Env, command: str) -> None:
    _run(env, ONE_SHOT[command][1] if command in ONE_SHOT else LONG_RUNNING[command][2])


@pytest.mark.parametrize("command", sorted(LONG_RUNNING))
def test_long_running_command_starts_and_stops_on_sigterm(env: Env, command: str) -> None:
    args, started, _ = LONG_RUNNING[command]
    log = env.tmp / f"{command.replace(' ', '-')}.log"
    before = _files(env.tmp)
    with log.open("w") as out:
        proc = subprocess.Popen([str(CLI), *args], env=cli_env(env.config, home=env.home), cwd=env.cwd,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: proc.poll() is not None or re.search(started, log.read_text()) is not None,
                 LONG_RUNNING_DEADLINE, lambda: log.read_text()[-2000:])
        assert proc.poll() is None, f"{command} exited {proc.returncode}:\n{log.read_text()[-2000:]}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=LONG_RUNNING_DEADLINE) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text()
    assert env.xandr.password not in log.read_text()
    assert _touched_outside_data_dir(env, before, [str(log)]) == [], f"{command} wrote outside the data dir"
    assert not any(env.cwd.iterdir()) and not any(env.home.iterdir()), f"{command} wrote into cwd or HOME"
