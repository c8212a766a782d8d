"""Pure parts of the reliability suite: the fuzz corpus, the config writer, the runner's verdicts.

The checks themselves start real servers and run under ``make reliability``; these tests only prove
the pieces they stand on, offline and in well under a second each.
"""

from __future__ import annotations

import time
import tomllib
from collections import Counter

import pytest

from loadtest import traffic
from loadtest.reliability import __main__ as runner
from loadtest.reliability import fuzz_inputs, harness


def _framed(raw: bytes) -> tuple[str, int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0)
    return lines[0], length, body


def test_corpus_covers_every_kind_and_frames_each_request() -> None:
    document = traffic.uid2_key_document(time.time())
    requests = list(fuzz_inputs.corpus(28 * 14, "token", document, seed=3))
    kinds = Counter(r.label.split("-")[0] for r in requests)
    labels = {r.label for r in requests}
    assert {name for name, _ in fuzz_inputs.MUTATIONS} <= labels
    assert kinds["seg"] and kinds["consent"] and kinds["uid2"]
    for r in requests:
        start, length, body = _framed(r.raw)
        assert start.startswith(("POST /rtd ", "GET /segments")), start
        assert length == len(body), r.label
        assert b"Authorization: Bearer token" in r.raw


def test_corpus_is_deterministic_for_a_seed() -> None:
    document = traffic.uid2_key_document(1_800_000_000)
    first = [r.raw for r in fuzz_inputs.corpus(40, "t", document, seed=9)]
    # UID2 tokens carry a random nonce; everything else repeats byte for byte
    second = [r.raw for r in fuzz_inputs.corpus(40, "t", document, seed=9)]
    same = sum(a == b for a, b in zip(first, second, strict=True))
    assert same >= 40 - 40 // 14 - 1


@pytest.mark.parametrize("value", [
    pytest.param("http://127.0.0.1:1", id="string"), pytest.param(True, id="bool"),
    pytest.param(0.2, id="float"), pytest.param([1, 2], id="list"), pytest.param('a"b\\c', id="escapes"),
])
def test_config_text_is_toml(value: harness.Scalar | list[harness.Scalar]) -> None:
    text = harness.toml_text({"store": {"data_dir": "/tmp/x"}, "mirror": {"v": value}})
    assert tomllib.loads(text)["mirror"]["v"] == value


def test_a_crashing_check_is_a_failed_check() -> None:
    def boom(quick: bool) -> harness.CheckResult:
        raise RuntimeError("no server")

    result = runner.run_one("boom", boom, quick=True)
    assert result.passed is False and "no server" in result.figure and result.name == "boom"


@pytest.mark.parametrize(("verdicts", "known", "status"), [
    pytest.param([True, None], "", 0, id="pass-and-skip"),
    pytest.param([True, False], "", 1, id="a-failure"),
    pytest.param([True, False], "b", 0, id="a-known-failure"),
    pytest.param([False, False], "b", 1, id="known-and-new"),
])
def test_exit_status(monkeypatch: pytest.MonkeyPatch, tmp_path: object, verdicts: list[bool | None],
                     known: str, status: int) -> None:
    checks = {name: (lambda quick, v=v, n=name: harness.CheckResult(n, "tried", "figure", v))
              for name, v in zip("ab", verdicts, strict=True)}
    monkeypatch.setattr(runner, "CHECKS", checks)
    out = f"{tmp_path}/r.json"
    assert runner.main(["--quick", "--known-failures", known, "--out", out]) == status
