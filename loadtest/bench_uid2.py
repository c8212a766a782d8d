"""UID2 decrypt throughput: ours (cryptography, cached AESGCM) vs uid2-client 2.9.0, same process.

    python loadtest/bench_uid2.py [--seconds 2.0] [--json out.json]

Tokens are fresh (random raw UIDs, wall clock) and made with uid2-client's own generator; both
sides decrypt the same list with the BIDSTREAM client type and must agree on every uid. Prints
tokens/s per version and the ratio. Needs the ``bench`` extra (uid2-client); the server never
imports it. A run takes about 6 x --seconds.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uid2_client import Params, UID2TokenGenerator
from uid2_client import decrypt_token as sdk_decrypt
from uid2_client.client_type import ClientType as SdkClientType
from uid2_client.refresh_keys_util import parse_keys_json

from server.uid2 import BidstreamDecryptor, StaticKeySource, parse_key_response

TOKENS_PER_VERSION = 256
Decrypt = Callable[[str], str | None]
GENERATORS = {
    2: UID2TokenGenerator.generate_uid2_token_v2,
    3: UID2TokenGenerator.generate_uid2_token_v3,
    4: UID2TokenGenerator.generate_uid2_token_v4,
}


def _key_document(now: int) -> dict[str, Any]:
    def key(key_id: int) -> dict[str, Any]:
        secret = base64.b64encode(os.urandom(32)).decode()
        return {
            "id": key_id,
            "created": now - 86400,
            "activates": now - 3600,
            "expires": now + 86400,
            "secret": secret,
        }

    return {
        "max_bidstream_lifetime_seconds": 259210,
        "identity_scope": "UID2",
        "allow_clock_skew_seconds": 1800,
        "keys": [key(101), key(301)],
    }


def _tokens(sdk_keys: Any, version: int) -> list[tuple[str, str]]:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    master, site = sdk_keys.get(101), sdk_keys.get(301)
    out = []
    for _ in range(TOKENS_PER_VERSION):
        raw = base64.b64encode(b"\x00" + os.urandom(32)).decode()
        out.append((GENERATORS[version](raw, master, 2001, site, Params(expiry=expiry)), raw))
    return out


def _pass(decrypt: Callable[[str], str | None], tokens: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for token, _ in tokens:
        decrypt(token)
    return len(tokens) / (time.perf_counter() - start)


def _compare(
    ours: Decrypt, theirs: Decrypt, tokens: list[tuple[str, str]], seconds: float
) -> tuple[float, float]:
    """Interleave passes of both sides so a noisy neighbour slows both alike; return median rates."""
    for token, raw in tokens:  # warm up and check agreement
        if ours(token) != raw or theirs(token) != raw:
            raise SystemExit("decrypt disagreement: benchmark aborted")
    ours_rates: list[float] = []
    theirs_rates: list[float] = []
    deadline = time.perf_counter() + 2 * seconds
    while time.perf_counter() < deadline or len(ours_rates) < 3:
        ours_rates.append(_pass(ours, tokens))
        theirs_rates.append(_pass(theirs, tokens))
    return statistics.median(ours_rates), statistics.median(theirs_rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="measuring time per side per version (interleaved)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    body = _key_document(int(time.time()))
    sdk_keys = parse_keys_json(body).keys
    decryptor = BidstreamDecryptor(StaticKeySource(parse_key_response(body)))
    now = dt.datetime.now(dt.UTC)

    def ours(token: str) -> str | None:
        return decryptor.decrypt(token, domain_or_app_name=None).uid

    def theirs(token: str) -> str | None:
        result = sdk_decrypt(token, sdk_keys, None, SdkClientType.BIDSTREAM, now)
        return result.uid  # type: ignore[no-any-return]

    rows = []
    for version in (2, 3, 4):
        tokens = _tokens(sdk_keys, version)
        ours_rate, theirs_rate = _compare(ours, theirs, tokens, args.seconds)
        rows.append(
            {
                "version": version,
                "ours_tokens_per_s": round(ours_rate),
                "uid2_client_tokens_per_s": round(theirs_rate),
                "ratio": round(ours_rate / theirs_rate, 1),
                "ours_us_per_token": round(1e6 / ours_rate, 2),
            }
        )

    print(
        f"{'version':>7} | {'ours tok/s':>12} | {'uid2-client tok/s':>17} | {'ratio':>6} | "
        f"{'ours µs/tok':>11}"
    )
    print("-" * 67)
    for r in rows:
        print(
            f"{'v' + str(r['version']):>7} | {r['ours_tokens_per_s']:>12,} | "
            f"{r['uid2_client_tokens_per_s']:>17,} | "
            f"{r['ratio']:>5}x | {r['ours_us_per_token']:>11}"
        )
    if args.json:
        meta = {"python": platform.python_version(), "machine": platform.machine(), "seconds": args.seconds}
        args.json.write_bytes(orjson.dumps({"results": rows, "meta": meta}, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
