"""Pure parts of the harness: percentiles, the max-throughput search, the traffic mix, summaries."""

from __future__ import annotations

import time

import orjson
import pytest

from loadtest import bench_all, bench_http, generator, traffic


@pytest.mark.parametrize(("values", "q", "expected"), [
    pytest.param([1.0], 99, 1.0, id="single"),
    pytest.param([float(i) for i in range(1, 101)], 50, 50.0, id="p50 of 1..100"),
    pytest.param([float(i) for i in range(1, 101)], 99, 99.0, id="p99 of 1..100"),
    pytest.param([float(i) for i in range(1, 1001)], 99.9, 999.0, id="p99.9 of 1..1000"),
    pytest.param([float(i) for i in range(1, 11)], 100, 10.0, id="p100 is the max"),
])
def test_nearest_rank_percentile(values: list[float], q: float, expected: float) -> None:
    assert generator.percentile(values, q) == expected


def _step(rate: float, ok: bool) -> dict[str, object]:
    return {"offered_rate": rate, "achieved_rate": rate if ok else rate * 0.5, "error_count": 0,
            "latency_ms": {"p99": 1.0 if ok else 50.0}}


def test_search_grows_then_bisects_to_the_precision() -> None:
    capacity = 3000.0
    search = bench_http.Search(500, growth=1.5, precision=1.08, max_steps=30)
    while search.next is not None:
        search.record(_step(search.next, search.next <= capacity))
    assert search.lo <= capacity
    assert search.hi is not None and search.hi > capacity
    assert search.hi / search.lo <= 1.08


def test_search_stops_at_max_steps_and_when_nothing_passes() -> None:
    search = bench_http.Search(1000, max_steps=3)
    while search.next is not None:
        search.record(_step(search.next, False))
    assert search.lo == 0.0 and len(search.steps) == 3


@pytest.mark.parametrize(("step", "ok"), [
    pytest.param({"offered_rate": 100, "achieved_rate": 99, "error_count": 0, "latency_ms": {"p99": 4.9}},
                 True,
                 id="inside the budget"),
    pytest.param({"offered_rate": 100, "achieved_rate": 99, "error_count": 1, "latency_ms": {"p99": 1}},
                 False,
                 id="one error"),
    pytest.param({"offered_rate": 100, "achieved_rate": 99, "error_count": 0, "latency_ms": {"p99": 5.1}},
                 False,
                 id="p99 over 5 ms"),
    pytest.param({"offered_rate": 100, "achieved_rate": 90, "error_count": 0, "latency_ms": {"p99": 1}},
                 False,
                 id="fell behind the offered rate"),
])
def test_step_passes_only_within_budget(step: dict[str, object], ok: bool) -> None:
    assert bench_http.passed(step) is ok


def test_traffic_is_deterministic_and_shaped_like_index_requests() -> None:
    plan = traffic.TrafficPlan(users=300, sample_users=300)
    keys = traffic.demo_keys(plan)
    a = traffic.build(plan, count=300, bearer="t0k", keys=keys)
    b = traffic.build(plan, count=300, bearer="t0k", keys=keys)
    assert [r.raw for r in a] == [r.raw for r in b]
    head, _, body = a[0].raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /rtd HTTP/1.1\r\n") and b"Authorization: Bearer t0k" in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    docs = [orjson.loads(r.raw.partition(b"\r\n\r\n")[2]) for r in a]
    assert any("app" in d for d in docs) and any("site" in d for d in docs)
    assert all("imp" in d and "device" in d for d in docs)
    assert {r.label.split("-")[0] for r in a} == {"app", "web"}


def test_uid2_tokens_decrypt_to_the_statuses_their_labels_say() -> None:
    from server.uid2 import ClientType, DecryptionStatus, decrypt_token, parse_key_response

    now = time.time()
    document = traffic.uid2_key_document(now)
    minter = traffic.Uid2Minter(document, now)
    keys = parse_key_response(document)
    raw = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
    expected = {"valid": DecryptionStatus.SUCCESS, "expired": DecryptionStatus.EXPIRED_TOKEN}
    for status, want in expected.items():
        token = minter.mint(raw, status)
        assert token is not None
        result = decrypt_token(token, keys, now=now, client_type=ClientType.BIDSTREAM,
                               domain_or_app_name="example.com")
        assert result.status is want
    foreign = decrypt_token(minter.mint(raw, "foreign") or "", keys, now=now,
                            client_type=ClientType.BIDSTREAM)
    assert foreign.status is not DecryptionStatus.SUCCESS


def test_segments_mix_uses_the_cached_api_parameters() -> None:
    plan = traffic.TrafficPlan(users=300, sample_users=300)
    mix = traffic.build(plan, count=200, endpoint="segments", keys=traffic.demo_keys(plan))
    assert all(r.raw.startswith(b"GET /segments?") for r in mix)
    assert {"seg-url", "seg-bundle", "seg-ifa"} <= set(traffic.describe(mix))


def test_headline_picks_ratio_like_numbers_from_other_benchmarks() -> None:
    doc = {"results": [{"version": 4, "ratio": 21.5, "ours_per_s": 1e6}], "meta": {"speedup_x": 3}}
    assert bench_all.headline(doc) == [("results[0].ratio", 21.5), ("meta.speedup_x", 3)]


def test_requests_rotate_over_every_idle_connection() -> None:
    """Round robin, so no connection sits idle past the server's keep-alive timeout mid-run."""
    state = generator._State([generator.Prepared(label="x", raw=b"GET / HTTP/1.1\r\n\r\n")], total=6, port=0)
    used: list[int] = []

    class Recording:
        def __init__(self, n: int) -> None:
            self.n = n

        def send(self, i: int) -> None:
            used.append(self.n)
            state.ready(self)  # type: ignore[arg-type]  -- answered at once, back to the pool

    for n in range(3):
        state.ready(Recording(n))  # type: ignore[arg-type]
    for i in range(6):
        state.dispatch(i)
    assert used == [0, 1, 2, 0, 1, 2]


def _found(**max_rates: float) -> dict[str, dict[str, float]]:
    return {name.replace("_", "·"): {"max_rate": rate} for name, rate in max_rates.items()}


def test_ratios_against_the_baseline_and_the_same_engine() -> None:
    found = _found(bare_uvicorn=10_000, bare_granian=8_000, ours_uvicorn=5_000, ours_granian=6_000)
    got = bench_http.ratios(found)
    assert got["ours·granian"] == {"vs_bare_uvicorn": 0.6, "vs_bare_same_engine": 0.75}
    assert got["ours·uvicorn"] == {"vs_bare_uvicorn": 0.5, "vs_bare_same_engine": 0.5}
    assert got["bare·uvicorn"]["vs_bare_uvicorn"] == 1.0


def test_a_baseline_that_never_passed_gives_no_ratio() -> None:
    assert bench_http.ratios(_found(bare_uvicorn=0,
                                    ours_uvicorn=5))["ours·uvicorn"]["vs_bare_uvicorn"] is None


def _run(endpoint: str, ours: str, ratio: float, p99: float) -> dict[str, object]:
    return {"endpoint": endpoint, "workers": 1,
            "ratios": {ours: {"vs_bare_uvicorn": ratio, "vs_bare_same_engine": ratio}},
            "half_load": {ours: {"latency_ms": {"p99": p99}}}}


@pytest.mark.parametrize(("adopted", "rtd", "segments"), [
    pytest.param("uvicorn", 0.5, 0.9, id="uvicorn adopted"),
    pytest.param("granian", 0.75, 0.7, id="granian adopted"),
])
def test_headline_and_verdicts_follow_the_adopted_engine(adopted: str, rtd: float, segments: float) -> None:
    runs = [_run("rtd", f"ours·{adopted}", rtd, 0.8), _run("segments", f"ours·{adopted}", segments, 1.5)]
    http = {"config": {"adopted_engine": adopted}, "runs": runs}
    assert bench_http.headline(http) == {"rtd_vs_bare": rtd, "segments_vs_bare": segments}
    verdicts = bench_http.verdicts(runs, adopted)  # type: ignore[arg-type]
    assert verdicts["rtd_max_ratio_1w"]["met"] is (rtd >= 0.70)
    assert verdicts["segments_max_ratio_1w"]["met"] is (segments >= 0.80)
    assert verdicts["rtd_p99_half_ms"]["met"] is True and verdicts["segments_p99_half_ms"]["met"] is False


def test_latest_json_headline_keys_come_first_and_survive_skipped_parts() -> None:
    result = {"machine": {"git_commit": "abc1234"}, "store": {"targets": {"lookup_p99_us": {"value": 13.5}}}}
    assert bench_all.headline_keys(result) == {"rtd_vs_bare": None, "segments_vs_bare": None,
                                               "store_p99_us": 13.5, "commit": "abc1234"}


def _engines_run(endpoint: str, uvicorn: float, granian: float, cpu_u: float,
                 cpu_g: float) -> dict[str, object]:
    return {"endpoint": endpoint, "workers": 1,
            "targets": {"ours·uvicorn": {"max_rate": uvicorn}, "ours·granian": {"max_rate": granian}},
            "half_load": {"ours·uvicorn": {"server_cpu_us_per_request": cpu_u},
                          "ours·granian": {"server_cpu_us_per_request": cpu_g}}}


@pytest.mark.parametrize(("rtd", "segments", "recommended"), [
    pytest.param((1000, 1200, 100, 90), (1000, 1150, 80, 70), "granian", id="clear win, cheaper"),
    pytest.param((1000, 1050, 100, 90), (1000, 1500, 80, 70), "uvicorn", id="rtd gain under 10 %"),
    pytest.param((1000, 1500, 100, 120), (1000, 1500, 80, 70), "uvicorn",
                 id="faster but more CPU per request"),
])
def test_engine_decision_keeps_uvicorn_unless_granian_clearly_wins(
        rtd: tuple[float, ...], segments: tuple[float, ...], recommended: str) -> None:
    runs = [_engines_run("rtd", *rtd), _engines_run("segments", *segments)]
    assert bench_http.engine_decision(runs, "uvicorn")["recommended"] == recommended  # type: ignore[arg-type]


def test_instruction_counts_sit_beside_each_apps_rows() -> None:
    """bench_icount's result shape: one count per app and endpoint, the same for both engines."""
    step = {"rate": 500.0, "latency_ms": {"p99": 0.5, "p99_9": 0.9}, "error_count": 0,
            "server_cpu_us_per_request": 80.0}
    names = ("bare·uvicorn", "ours·granian")
    run = {"endpoint": "rtd", "workers": 1, "targets": {n: {"max_rate": 1000.0} for n in names},
           "half_load": {n: step for n in names}, "ratios": bench_http.ratios({n: {"max_rate": 1000.0}
                                                                                for n in names})}
    icount = {"results": [{"endpoint": "rtd", "instructions_per_request": {"bare": 57_600, "ours": 217_100},
                           "ratio": 3.77}]}
    rows = bench_http.summary_rows({"runs": [run]}, icount)
    assert [(row[2], row[-1]) for row in rows] == [("bare·uvicorn", 57_600), ("ours·granian", 217_100)]
    assert len(rows[0]) == len(bench_http.SUMMARY_HEADER)
