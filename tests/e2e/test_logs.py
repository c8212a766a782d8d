"""README → Logs: "JSON lines on stdout: ts, level, event, pid"; access lines "sampled by
``server.access_log_sample_rate`` (default 0.0), always for status >= 400", with ``path`` (never
the query string) and ``query_keys``; tokens, raw UID2s, emails, IFAs never appear."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import orjson

from tests.e2e.harness import Server, wait_for

RAW_UID2 = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
EMAIL = "jane.doe.e2e@example.com"
IFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
SECRET_PAGE = "secret-e2e-page.example/private/path"
QUERY_VALUE = "query-value-e2e-7f3a"
# What the CLI itself prints before logging is configured (README → Compiled hot path).
CLI_BANNER = "hot path: "


def _send(server: Server) -> tuple[int, int]:
    """Successful and failing requests carrying identifiers in bodies and query strings."""
    good = orjson.dumps({"site": {"page": f"https://{SECRET_PAGE}?q={QUERY_VALUE}"},
                         "device": {"ifa": IFA, "os": "ios"},
                         "user": {"id": RAW_UID2, "ext": {"eids": [{"source": "example.org",
                                                                    "uids": [{"id": EMAIL}]}]}}})

    def call(i: int) -> int:
        with server.client(headers={"connection": "close"}) as c:
            if i % 10 == 9:
                return c.get("/segments", params={"bogus": QUERY_VALUE, "ifa": IFA}).status_code  # 400
            if i % 2:
                return c.get("/segments", params={"url": f"{SECRET_PAGE}?{QUERY_VALUE}"}).status_code
            return c.post("/rtd", content=good).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(call, range(40)))
    return statuses.count(200), statuses.count(400)


def _access(server: Server) -> list[dict[str, object]]:
    return [r for r in server.records() if r.get("event") == "access"]


def test_access_lines_are_sampled_and_redacted(served: Server) -> None:
    before = len(_access(served))
    lines_before = len(served.stdout().splitlines()), len(served.stderr().splitlines())
    ok, bad = _send(served)
    assert (ok, bad) == (36, 4)
    # The four 400s are always logged: wait for them, then look at everything written meanwhile.
    wait_for(lambda: len([r for r in _access(served)[before:] if r.get("status") == 400]) >= bad, 20,
             lambda: served.tail())
    new = _access(served)[before:]
    assert [r["status"] for r in new] == [400] * bad, (
        "at the default access_log_sample_rate (0.0) only status >= 400 gets an access line")
    for line in new:
        assert line["path"] == "/segments" and "?" not in str(line["path"])
        assert sorted(line["query_keys"]) == ["bogus", "ifa"]  # type: ignore[call-overload]
    written = (served.stdout().splitlines()[lines_before[0]:]
               + served.stderr().splitlines()[lines_before[1]:])
    other_access = [line for line in written if "/rtd" in line or "/segments" in line]
    assert len(other_access) == bad, (
        f"{len(other_access)} lines mention a request path; only the {bad} sampled-in errors may:\n"
        + "\n".join(other_access[:5]))


def test_no_raw_id_or_query_value_in_any_output(served: Server) -> None:
    _send(served)
    output = served.output()
    for value in (RAW_UID2, EMAIL, IFA, SECRET_PAGE, QUERY_VALUE, served.token):
        assert value not in output, f"{value[:12]}… leaked into the server's output"


def test_every_stdout_line_is_one_json_object(served: Server) -> None:
    _send(served)
    lines = served.stdout().splitlines()
    assert lines, "the server logs its start-up"
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"stdout line {number} is not JSON: {line[:200]!r}") from None
        assert isinstance(record, dict), line
        assert {"ts", "level", "event", "pid"} <= set(record), line


def test_no_log_line_outside_the_json_stream(served: Server) -> None:
    """stderr holds the CLI's one-line banner and nothing else: no plain-text log lines."""
    strays = [line for line in served.stderr().splitlines()
              if line.strip() and not line.startswith(CLI_BANNER)]
    non_json = []
    for line in strays:
        try:
            json.loads(line)
        except ValueError:
            non_json.append(line)
    assert non_json == [], "plain-text log lines: " + " | ".join(non_json[:5])
