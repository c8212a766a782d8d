"""µs per ``PrivacyGate.decide()`` for representative signal mixes, cold vs warm consent caches.

Cold = a fresh gate per call (every TCF/GPP string decoded); warm = one gate, strings cached.
Usage: ``python loadtest/bench_privacy.py [--n 2000] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.privacy import PrivacyGate, PrivacySettings
from server.signals import PrivacySignals

# Real strings from IABTechLab/iabgpp-java tests (see tests/privacy/privacy_vectors.py).
TCF = "COv_eg6Ov_eg6AOADBENAaCgAP_AAH_AACiQAVEUQQoAIQAqIoghAAQgAA.YAAAAAAAAAAAAAAAAAA"
GPP_TCF_USP = "DBACNYA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA~1YNN"
GPP_USNAT = "DBABLA~BVVVkkkkkpFY.YA"

MIXES: dict[str, PrivacySignals] = {
    "index sample (gdpr=0, 1---)": PrivacySignals(coppa=0, gdpr=0, us_privacy="1---", gpp=""),
    "coppa": PrivacySignals(coppa=1),
    "gdpr + TCF consent": PrivacySignals(gdpr=1, consent=TCF),
    "gdpr + garbage consent": PrivacySignals(gdpr=1, consent="CgarbageString"),
    "usp opt-out": PrivacySignals(us_privacy="1YYN"),
    "gpp tcf+usp sid [2,6]": PrivacySignals(gpp=GPP_TCF_USP, gpp_sid=(2, 6)),
    "gpp usnat sid [7]": PrivacySignals(gpp=GPP_USNAT, gpp_sid=(7,)),
    "lmt + ifa": PrivacySignals(lmt=1, has_ifa=True),
}


def _time(fn: object, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def run(n: int) -> list[dict[str, object]]:
    settings = PrivacySettings(gvl_vendor_id=8)
    rows = []
    for name, signals in MIXES.items():
        cold_gates = [PrivacyGate(settings) for _ in range(n)]
        it = iter(cold_gates)
        cold = _time(lambda it=it, sig=signals: next(it).decide(sig), n)
        warm_gate = PrivacyGate(settings)
        warm_gate.decide(signals)
        warm = _time(lambda g=warm_gate, sig=signals: g.decide(sig), n)
        rows.append({"mix": name, "reason": warm_gate.decide(signals).reason, "cold_us": round(cold, 2),
                     "warm_us": round(warm, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = run(args.n)
    print(f"{'mix':32} {'reason':22} {'cold µs':>9} {'warm µs':>9}   (median of {args.n})")
    for row in rows:
        print(f"{row['mix']:32} {row['reason']:22} {row['cold_us']:>9} {row['warm_us']:>9}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
