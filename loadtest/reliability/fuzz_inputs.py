"""Generated and mutated requests for the fuzz check, as wire bytes with a label per kind.

Seeds are real requests from :mod:`loadtest.traffic` (Index's sample shapes, real UID2 tokens minted
with the fake operator's key set, real TCF/GPP/USP strings). Each generator below takes one hostile
idea from issue 22 and applies it to a seed; :func:`corpus` cycles through them deterministically
for a seed, so a failure is reproducible by (seed, index).
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import random
from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from loadtest import traffic
from loadtest.generator import Prepared

JsonDoc = dict[str, Any]
Mutation = Callable[[random.Random, JsonDoc], tuple[bytes, dict[str, str]]]
HOSTILE_VALUES: list[Any] = [None, True, False, 0, -1, 2**63, -(2**64), 1.5e308, -0.0, "", "x" * 5000, [], {},
                             [1, "a", None], {"": {}}, "\u0000", "\ud7ff\ue000", "%00", "🙂" * 100]
NUMBER_TEXTS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1" * 400, b"0.0000e-99999",
                b"1E+9999999"]


def post(body: bytes, headers: dict[str, str] | None = None, bearer: str | None = None,
         path: str = "/rtd") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(target: str, bearer: str | None) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1"]
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- JSON structure -----------------------------------------------------------------------------

def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to every value of ``doc`` (objects by key, arrays by index)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield (*prefix, i)
            yield from paths(value, (*prefix, i))


def replace_at(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = deepcopy(doc)
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 5 or roll < 0.4:
        if rng.random() < 0.5:
            return rng.choice(HOSTILE_VALUES[:14])
        return rng.choice([rng.random(), rng.randrange(-9, 9999),
                           "".join(rng.choices("abc{}[]\"\\:/", k=rng.randrange(12)))])
    if roll < 0.7:
        keys = ["id", "user", "site", "device", "regs", "eids", "ext", "imp", "k"]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


def _json(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # integers past 64 bits: orjson refuses, the json module writes them
        return json.dumps(doc, separators=(",", ":")).encode()


# -- mutations of a seed request ----------------------------------------------------------------

def wrong_type(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    where = rng.choice(list(paths(doc)))
    return _json(replace_at(doc, where, rng.choice(HOSTILE_VALUES))), {}


def random_body(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    return _json(random_json(rng)), {}


def deep_nesting(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    depth = rng.choice([64, 512, 5_000, 20_000])
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth, {}
    inner = b'{"user":' * depth + b"{}" + b"}" * depth
    return b'{"id":"d","user":{"ext":' + inner + b"}}", {}


def huge_array(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    n = rng.choice([1_000, 5_000, 12_000])
    if rng.random() < 0.5:
        uids = [{"source": f"s{i % 50}.com", "uids": [{"id": str(i)}]} for i in range(n // 8)]
        return _json({**doc, "user": {"eids": uids}}), {}
    return _json({**doc, "imp": [0] * n}), {}


def invalid_utf8(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    body = bytearray(_json(doc))
    quotes = [i for i, b in enumerate(body) if b == 0x22]
    at = rng.choice(quotes) + 1 if quotes else 0
    body[at:at] = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])
    return bytes(body), {}


def duplicate_keys(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    body = _json(doc)
    key = rng.choice([b"user", b"device", b"site", b"regs", b"id"])
    extra = b'"' + key + b'":' + _json(rng.choice(HOSTILE_VALUES)) + b","
    return b"{" + extra + body[1:-1] + b"," + extra[:-1] + b"}", {}


def special_numbers(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    marker = "__number__"
    where = rng.choice(list(paths(doc)))
    body = _json(replace_at(doc, where, marker))
    return body.replace(b'"' + marker.encode() + b'"', rng.choice(NUMBER_TEXTS)), {}


def gzip_body(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    roll = rng.random()
    if roll < 0.4:
        return gzip.compress(_json(doc)), {"Content-Encoding": "gzip"}
    if roll < 0.6:  # a bomb: 20 KB compressed, 20 MB inflated
        return _bomb(), {"Content-Encoding": "gzip"}
    if roll < 0.8:
        return gzip.compress(_json(doc))[: rng.randrange(1, 40)], {"Content-Encoding": "gzip"}
    encoding = rng.choice(["br", "deflate", "gzip, gzip", "x-unknown", "identity"])
    return _json(doc), {"Content-Encoding": encoding}


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b" " * 20_000_000, compresslevel=9)


def empty_or_oversize(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    roll = rng.random()
    if roll < 0.3:
        return b"", {}
    if roll < 0.5:
        return b" \r\n\t", {}
    pad = "p" * rng.choice([65_000, 70_000, 300_000])
    return _json({**doc, "ext": {"pad": pad}}), {}


def byte_flip(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    body = bytearray(_json(doc))
    for _ in range(rng.randrange(1, 8)):
        i = rng.randrange(len(body))
        body[i] = (body[i] ^ (1 << rng.randrange(8))) if rng.random() < 0.7 else rng.randrange(256)
    if rng.random() < 0.3:
        del body[rng.randrange(len(body)):]
    return bytes(body), {}


def large_unique_values(rng: random.Random, doc: JsonDoc) -> tuple[bytes, dict[str, str]]:
    """Issue 25 item 7: unique ~30 KB values in cached fields (page, ip, consent, zip)."""
    value = f"{rng.getrandbits(64):x}" + "v" * 30_000
    where = rng.choice([("site", "page"), ("device", "ip"), ("user", "consent"), ("device", "geo")])
    doc = deepcopy(doc)
    node = doc.setdefault(where[0], {})
    node[where[1]] = {"zip": value, "country": "USA"} if where[1] == "geo" else value
    return _json(doc), {}


# -- identity and consent strings ---------------------------------------------------------------

def mutate_string(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.25:
        return text[: rng.randrange(len(text) + 1)]
    if roll < 0.5:
        raw = bytearray(text.encode())
        i = rng.randrange(len(raw)) if raw else 0
        if raw:
            raw[i] = rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.~")
        return raw.decode()
    if roll < 0.65:
        return text + rng.choice(["~", ".", "==", "~~~", "\u00ff", "%"]) * rng.randrange(1, 50)
    if roll < 0.8:
        return "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.~",
                                   k=rng.randrange(0, 200)))
    return text * rng.randrange(2, 400)


class TokenMutator:
    """UID2 tokens built with the test key set (``server.uid2.encrypt``), then damaged."""

    def __init__(self, document: JsonDoc) -> None:
        self.minter = traffic.Uid2Minter(document)

    def token(self, rng: random.Random) -> tuple[str, str]:
        raw = base64.b64encode(rng.randbytes(32)).decode()
        status = rng.choice(["valid", "expired", "foreign"])
        token = self.minter.mint(raw, status) or ""
        data = bytearray(base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_"))
        roll = rng.random()
        if roll < 0.2:
            return f"uid2-{status}", token
        if roll < 0.4:
            del data[rng.randrange(len(data)):]
            kind = "truncated"
        elif roll < 0.6:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
            kind = "bitflip"
        elif roll < 0.75:
            data[0] = rng.choice([0, 1, 2, 0x70, 0x80, 0xFF])  # the version / prefix byte
            kind = "version"
        elif roll < 0.9:
            data[1:5] = rng.randbytes(4)  # another key id
            kind = "keyid"
        else:
            return "uid2-text", mutate_string(rng, token)
        encoder = base64.urlsafe_b64encode if rng.random() < 0.5 else base64.b64encode
        return f"uid2-{kind}", encoder(bytes(data)).decode()


CONSENT_SEEDS = [traffic.TCF_ALL_PURPOSES, traffic.TCF_NO_PURPOSES, traffic.GPP_USP_NO_OPT_OUT,
                 traffic.GPP_TCF_AND_USP, traffic.GPP_USNAT_DEFAULTS, "1YNN", "1---", "1YYN"]


def with_consent(rng: random.Random, doc: JsonDoc) -> tuple[str, bytes, dict[str, str]]:
    doc = deepcopy(doc)
    value = mutate_string(rng, rng.choice(CONSENT_SEEDS))
    regs = doc.setdefault("regs", {})
    user = doc.setdefault("user", {})
    where = rng.choice(["tcf", "gpp", "usp", "usp25", "tcf25"])
    if where == "tcf":
        regs["gdpr"], user["consent"] = 1, value
    elif where == "tcf25":
        regs["ext"], user["ext"] = {"gdpr": 1}, {"consent": value}
    elif where == "gpp":
        regs["gpp"], regs["gpp_sid"] = value, rng.choice([[2], [6], [7], [2, 6], [99], [], "x", [-1]])
    elif where == "usp":
        regs["us_privacy"] = value
    else:
        regs["ext"] = {"us_privacy": value}
    return f"consent-{where}", _json(doc), {}


def with_token(rng: random.Random, doc: JsonDoc, tokens: TokenMutator) -> tuple[str, bytes, dict[str, str]]:
    label, token = tokens.token(rng)
    doc = deepcopy(doc)
    doc.setdefault("user", {})["eids"] = [{"source": "uidapi.com", "uids": [{"id": token, "atype": 3}]}]
    return label, _json(doc), {}


SEGMENT_PARAMS = ["url", "bundle", "content_id", "content_url", "ip", "ifa", "country", "zip", "x"]


def segments_target(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    params = [(rng.choice(SEGMENT_PARAMS), mutate_string(rng, rng.choice(["example.com/a/b", "198.51.100.7",
                                                                          "USA", "55555", "123456789"])))
              for _ in range(rng.randrange(0, 6))]
    if roll < 0.5:
        return "seg-params", "/segments?" + urlencode(params)
    if roll < 0.7:  # broken percent-encoding and raw bytes
        broken = rng.choice(["%zz", "%ff%fe", "%", "%C3%28", "%00", "%E2%82"])
        return "seg-encoding", "/segments?url=" + broken * rng.randrange(1, 9)
    if roll < 0.85:
        return "seg-long", "/segments?url=" + quote("a" * rng.choice([1000, 8000, 60000]))
    repeats = range(rng.randrange(1, 300))
    return "seg-repeat", "/segments?" + "&".join(f"ip={rng.randrange(256)}.0.0.1" for _ in repeats)


MUTATIONS: list[tuple[str, Mutation]] = [
    ("random-json", random_body), ("wrong-type", wrong_type), ("deep-nesting", deep_nesting),
    ("huge-array", huge_array), ("invalid-utf8", invalid_utf8), ("duplicate-keys", duplicate_keys),
    ("nan-inf-1e400", special_numbers), ("gzip", gzip_body), ("empty-oversize", empty_or_oversize),
    ("byte-flip", byte_flip), ("large-unique-value", large_unique_values),
]


def seeds(uid2_document: JsonDoc | None, count: int = 300) -> list[JsonDoc]:
    plan = traffic.TrafficPlan(users=2_000, seed=7, uid2_share=0.5)
    prepared = traffic.build(plan, count=count, endpoint="rtd", uid2_document=uid2_document)
    return [orjson.loads(p.raw.split(b"\r\n\r\n", 1)[1]) for p in prepared]


def corpus(count: int, bearer: str, uid2_document: JsonDoc | None, seed: int = 22) -> Iterator[Prepared]:
    """``count`` hostile requests; the mix cycles over every kind so a short run covers all of them."""
    rng = random.Random(seed)
    docs = seeds(uid2_document)
    tokens = TokenMutator(uid2_document) if uid2_document else None
    kinds = len(MUTATIONS) + 3
    for i in range(count):
        doc = rng.choice(docs)
        k = i % kinds
        if k < len(MUTATIONS):
            label, mutate = MUTATIONS[k]
            body, headers = mutate(rng, doc)
            yield Prepared(label, post(body, headers, bearer))
        elif k == len(MUTATIONS):
            label, target = segments_target(rng)
            yield Prepared(label, get(target, bearer))
        elif k == len(MUTATIONS) + 1:
            label, body, headers = with_consent(rng, doc)
            yield Prepared(label, post(body, headers, bearer))
        elif tokens is not None:
            label, body, headers = with_token(rng, doc, tokens)
            yield Prepared(label, post(body, headers, bearer))
