"""A deterministic demo data set: a taxonomy and memberships over every key kind.

Same ``seed`` → byte-identical files, so benchmarks and screenshots are comparable across runs.
It always contains the keys of Index's two published sample requests (seed 004), so the README's
curl examples hit. Scales to ``--users 10000000`` (rows are streamed, never held in memory).
"""

from __future__ import annotations

import base64
import gzip
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

SEGMENT_NAMES = [
    "auto_intenders", "sports_fans", "football", "travel_planners", "luxury_shoppers", "parents",
    "gamers", "fitness", "foodies", "tech_early_adopters", "pet_owners", "cat_owners", "home_improvement",
    "finance_savvy", "movie_buffs", "music_lovers", "students", "small_business", "gender_female",
    "target_shoppers", "news_readers", "outdoor", "fashion", "beauty", "health_conscious",
]
DOMAINS = ["example.com", "news.example.org", "sportsdaily.test", "recipes.test", "autoworld.test",
           "travelhub.test", "techreview.test", "moneytalk.test"]
SECTIONS = ["", "sports", "sports/football", "travel", "food", "tech", "finance", "section", "cars"]
# The literal values of Index's sample requests (seed 004), so `make run`'s curl examples match.
SAMPLE_EID = ("id_provider.com",
              "Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567")
SAMPLE_BUNDLE = "123456789"
SAMPLE_PAGE = "example.com/section"


def taxonomy() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i, name in enumerate(SEGMENT_NAMES):
        row: dict[str, object] = {"id": name, "name": name.replace("_", " ").title(),
                                  "ttl_seconds": [3600, 21600, 86400][i % 3]}
        if i % 4 == 0:
            row["deal_ids"] = [f"IX-DEAL-{1000 + i}"]
        if i % 2 == 0:
            row["xandr"] = {"seg_id": 30000 + i, "value": 1, "expiration": 1440}
        rows.append(row)
    return rows


def raw_uid2(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(32)).decode()


def memberships(users: int, seed: int = 7) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    names = SEGMENT_NAMES
    yield {"kind": "eid", "key": ":".join(SAMPLE_EID), "segments": ["cat_owners", "target_shoppers"]}
    yield {"kind": "bundle", "key": SAMPLE_BUNDLE, "segments": ["gamers", "students"]}
    yield {"kind": "url", "key": SAMPLE_PAGE, "segments": ["news_readers"]}
    yield {"kind": "domain", "key": "example.com", "segments": ["gender_female"]}
    yield {"kind": "geo", "key": "USA:55555", "segments": ["outdoor"]}
    yield {"kind": "ip", "key": "198.51.100.0/24", "segments": ["small_business"]}
    for domain in DOMAINS:
        for section in SECTIONS:
            yield {"kind": "url", "key": f"{domain}/{section}".rstrip("/"), "segments": rng.sample(names, 2)}
    for i in range(users):
        segs = rng.sample(names, 5)
        pick = i % 10
        if pick < 6:
            yield {"kind": "uid2", "key": raw_uid2(rng), "segments": segs}
        elif pick < 8:
            ifa = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            yield {"kind": "ifa", "key": ifa, "segments": segs}
        elif pick < 9:
            yield {"kind": "eid", "key": f"liveramp.com:XY{rng.getrandbits(64):016X}", "segments": segs}
        else:
            yield {"kind": "user_id", "key": f"u{rng.getrandbits(64):016x}", "segments": segs}


def row_count(users: int) -> int:
    """Rows :func:`memberships` yields: the contextual URL rows, then one per user."""
    return len(DOMAINS) * len(SECTIONS) + users


def write(out_dir: Path, users: int, seed: int = 7,
          progress: Callable[[int], None] | None = None) -> tuple[Path, Path]:
    """Write ``taxonomy.json`` (Index's 2.0 shape plus our fields) and ``memberships.jsonl.gz``.

    ``progress`` gets the rows written so far (of :func:`row_count`), every 10,000."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tax_path = out_dir / "taxonomy.json"
    tax_path.write_bytes(orjson.dumps({"version": "2.0", "segments": taxonomy()}, option=orjson.OPT_INDENT_2))
    mem_path = out_dir / "memberships.jsonl.gz"
    with open(mem_path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as fh:
        buf = []
        written = 0
        for row in memberships(users, seed):
            buf.append(orjson.dumps(row))
            if len(buf) >= 10000:
                fh.write(b"\n".join(buf) + b"\n")
                written += len(buf)
                buf.clear()
                if progress is not None:
                    progress(written)
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    return tax_path, mem_path
