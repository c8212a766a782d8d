"""A realistic Index Exchange request mix for ``POST /rtd`` and ``GET /segments``.

Requests are shaped like Index's two published samples (seed 004, ``tests/data/index_*_request.json``)
and vary what matters to the server:

- channel: app (bundle, ``device.ifa``, iOS/Android) or web (page URL, ``user.id``);
- identity: the sample eid (``id_provider.com``), ``liveramp.com`` eids, ``id5-sync.com`` (never
  loaded), ``device.ifa`` and ``user.id`` — each a hit (a key of the loaded demo data) or a miss;
- UID2: a configurable share carries a ``uidapi.com`` token — valid (a raw UID2 of the demo data,
  encrypted with the keys the fake operator serves), expired, or foreign (keys the server never
  saw);
- pages: demo domains and sections (prefix rules cover deeper pages) or unknown sites; IPs inside
  and outside the demo's ``198.51.100.0/24`` rule; the demo's geo key or another zip;
- consent: none, US Privacy (``1YNN``/``1YYN``/``1---``), GDPR with real TCF v2 strings, GPP
  (USP, TCF+USP, US national), COPPA, GPC — half in OpenRTB 2.5 ``ext`` locations, half in 2.6;
- ``Authorization: Bearer`` when a token is given.

Everything is deterministic for a seed. Requests are prebuilt wire bytes
(:class:`loadtest.generator.Prepared`), labelled ``<channel>-<uid2 status>`` or ``seg-<key>``.
"""

from __future__ import annotations

import base64
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from loadtest.generator import Prepared

# Real consent strings, copied from tests/privacy/privacy_vectors.py (there taken verbatim from the
# IAB Tech Lab reference encoder's test suite, IABTechLab/iabgpp-java).
TCF_ALL_PURPOSES = "COv_eg6Ov_eg6AOADBENAaCgAP_AAH_AACiQAVEUQQoAIQAqIoghAAQgAA.YAAAAAAAAAAAAAAAAAA"
TCF_NO_PURPOSES = "CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAFpQAwAAgCtAWkAAAAAAA.QAAA.IAAA"
GPP_USP_NO_OPT_OUT = "DBABTA~1YNN"
GPP_TCF_AND_USP = "DBACNYA~CPSG_8APSG_8ANwAAAENAwCAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA~1YNN"
GPP_USNAT_DEFAULTS = "DBABLA~BAAAAAAAAQA.QA"

SAMPLE_EID_SOURCE = "ID_Provider.com"
SAMPLE_EID_ID = "Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567Abcdefgh1234567"
UA_IOS = ("Mozilla/5.0 (iPad; CPU OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")
UA_ANDROID = ("Mozilla/5.0 (Linux; Android 14; SM-S911U Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Version/4.0 Chrome/100.0.0000.000 Mobile Safari/537.36")


@dataclass(frozen=True)
class TrafficPlan:
    """Shares of the mix (each 0–1). ``users`` and ``seed`` must match the loaded demo data."""

    users: int = 10_000
    seed: int = 7
    app_share: float = 0.5
    uid2_share: float = 0.3
    uid2_expired_share: float = 0.1  # of the UID2 requests
    uid2_foreign_share: float = 0.1  # of the UID2 requests
    hit_share: float = 0.5  # user-level ids and pages that exist in the demo data
    sample_users: int = 5000  # how many demo users to draw hit keys from


# -- what the demo data contains -----------------------------------------------------------------

@dataclass
class DemoKeys:
    uid2: list[str]
    ifa: list[str]
    liveramp: list[str]
    user_ids: list[str]
    domains: list[str]
    sections: list[str]


def demo_keys(plan: TrafficPlan) -> DemoKeys:
    """Hit keys, from the same deterministic generator that made the loaded data set."""
    from segments import demo

    keys = DemoKeys([], [], [], [], list(demo.DOMAINS), [s for s in demo.SECTIONS if s])
    wanted = min(plan.users, plan.sample_users)
    rows = demo.memberships(plan.users, plan.seed)
    for row in islice(rows, 6 + len(demo.DOMAINS) * len(demo.SECTIONS) + wanted):
        kind, key = row["kind"], str(row["key"])
        if kind == "uid2":
            keys.uid2.append(key)
        elif kind == "ifa":
            keys.ifa.append(key)
        elif kind == "eid" and key.startswith("liveramp.com:"):
            keys.liveramp.append(key.partition(":")[2])
        elif kind == "user_id":
            keys.user_ids.append(key)
    return keys


# -- UID2 ----------------------------------------------------------------------------------------

def uid2_key_document(now: float, *, key_ids: tuple[int, int] = (1001, 1002),
                      seed: int = 5) -> dict[str, Any]:
    """A ``/v2/key/bidstream`` (and ``/v2/key/sharing``) response body: one master, one site key."""
    rng = random.Random(seed)
    start, end = int(now) - 30 * 86400, int(now) + 30 * 86400

    def key(key_id: int, keyset_id: int) -> dict[str, Any]:
        return {"id": key_id, "keyset_id": keyset_id, "created": start, "activates": start, "expires": end,
                "secret": base64.b64encode(rng.randbytes(32)).decode()}

    return {"body": {"caller_site_id": 2001, "master_keyset_id": 1, "default_keyset_id": 99,
                     "token_expiry_seconds": 86400, "max_bidstream_lifetime_seconds": 259210,
                     "max_sharing_lifetime_seconds": 2592000, "allow_clock_skew_seconds": 1800,
                     "identity_scope": "UID2", "keys": [key(key_ids[0], 1), key(key_ids[1], 99)],
                     "site_data": [{"id": 2001, "domain_names": ["example.com", "com.example.app"]}]},
            "status": "success"}


class Uid2Minter:
    """Mints valid, expired and foreign advertising tokens (v4) for raw UID2s."""

    def __init__(self, document: dict[str, Any], now: float | None = None) -> None:
        from server.uid2 import encrypt_raw_uid, parse_key_response

        self._encrypt: Callable[..., Any] = encrypt_raw_uid
        self.keys = parse_key_response(document)
        self.foreign = parse_key_response(uid2_key_document(now or time.time(), key_ids=(7001, 7002),
                                                            seed=99))
        self.now = now or time.time()

    def mint(self, raw_uid: str, status: str) -> str | None:
        keys = self.foreign if status == "foreign" else self.keys
        at = self.now - 3 * 86400 if status == "expired" else self.now
        result = self._encrypt(raw_uid, keys, now=at)
        token: str | None = result.token
        return token


def make_minter(document: dict[str, Any] | None) -> Uid2Minter | None:
    """A minter when ``server.uid2`` exists (the harness must degrade gracefully without it)."""
    if document is None:
        return None
    try:
        return Uid2Minter(document)
    except ImportError:
        return None


# -- bearer tokens ------------------------------------------------------------------------------

def bearer_token(data_dir: Path) -> str | None:
    """A token for the server's auth, minted from its data dir when ``server.auth`` exists."""
    try:
        from server.auth import ensure_demo_identity
    except ImportError:
        return None
    try:
        return str(ensure_demo_identity(data_dir))
    except Exception:  # noqa: BLE001 -- no auth store in this data dir: run without a token
        return None


# -- request bodies ------------------------------------------------------------------------------

def _put(doc: dict[str, Any], where: str, name: str, value: Any, v26: bool) -> None:
    """Set ``regs.<name>`` / ``user.<name>`` (2.6) or ``regs.ext.<name>`` / ``user.ext.<name>`` (2.5)."""
    parent = doc.setdefault(where, {})
    (parent if v26 else parent.setdefault("ext", {}))[name] = value


# (signal, share of requests); applied by _apply_consent.
CONSENTS: list[tuple[str, float]] = [
    ("none", 0.30), ("usp_ok", 0.20), ("usp_optout", 0.05), ("usp_na", 0.10), ("tcf_all", 0.10),
    ("tcf_none", 0.03), ("gpp_usp", 0.07), ("gpp_tcf_usp", 0.05), ("gpp_usnat", 0.05), ("coppa", 0.02),
    ("gpc", 0.03),
]
_USP = {"usp_ok": "1YNN", "usp_optout": "1YYN", "usp_na": "1---"}
_TCF = {"tcf_all": TCF_ALL_PURPOSES, "tcf_none": TCF_NO_PURPOSES}
_GPP = {"gpp_usp": (GPP_USP_NO_OPT_OUT, "gpp_sid", [6]), "gpp_tcf_usp": (GPP_TCF_AND_USP, "gppSid", [2, 6]),
        "gpp_usnat": (GPP_USNAT_DEFAULTS, "gpp_sid", [7])}


def _apply_consent(name: str, doc: dict[str, Any], headers: dict[str, str], v26: bool) -> None:
    if name == "none":
        _put(doc, "regs", "gdpr", 0, v26)
    elif name in _USP:
        _put(doc, "regs", "us_privacy", _USP[name], v26)
    elif name in _TCF:
        _put(doc, "regs", "gdpr", 1, v26)
        _put(doc, "user", "consent", _TCF[name], v26)
    elif name in _GPP:
        gpp, sid_name, sids = _GPP[name]
        _put(doc, "regs", "gpp", gpp, True)
        _put(doc, "regs", sid_name, sids, True)  # gppSid is Index's sample spelling
    elif name == "coppa":
        _put(doc, "regs", "coppa", 1, True)
    elif name == "gpc":
        headers["Sec-GPC"] = "1"


class _Builder:
    def __init__(self, plan: TrafficPlan, keys: DemoKeys, minter: Uid2Minter | None,
                 rng: random.Random) -> None:
        self.plan, self.keys, self.minter, self.rng = plan, keys, minter, rng
        self._consent_weights = [w for _, w in CONSENTS]

    def hit(self) -> bool:
        return self.rng.random() < self.plan.hit_share

    def page(self) -> str:
        rng = self.rng
        if self.hit():
            return f"https://www.{rng.choice(self.keys.domains)}/{rng.choice(self.keys.sections)}/story-{rng.randrange(999)}/"
        return f"https://site{rng.randrange(100_000)}.unknown.test/section/story-{rng.randrange(999)}/"

    def ip(self) -> str:
        rng = self.rng
        if self.hit():
            return f"198.51.100.{rng.randrange(256)}"
        return f"203.0.{rng.randrange(256)}.{rng.randrange(256)}"

    def uid2(self) -> tuple[str, str | None]:
        """(status label, token or None) for one request."""
        rng, plan = self.rng, self.plan
        if self.minter is None or rng.random() >= plan.uid2_share:
            return "nouid2", None
        roll = rng.random()
        status = ("expired" if roll < plan.uid2_expired_share
                  else "foreign" if roll < plan.uid2_expired_share + plan.uid2_foreign_share else "valid")
        if self.hit() and self.keys.uid2:
            raw = rng.choice(self.keys.uid2)
        else:
            raw = base64.b64encode(rng.randbytes(32)).decode()
        return f"uid2_{status}", self.minter.mint(raw, status)

    def eids(self, token: str | None) -> list[dict[str, Any]]:
        rng = self.rng
        eids: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            eids.append({"source": SAMPLE_EID_SOURCE, "uids": [{"id": SAMPLE_EID_ID}]})
        if rng.random() < 0.4:
            value = (rng.choice(self.keys.liveramp) if self.hit() and self.keys.liveramp
                     else f"XY{rng.getrandbits(64):016X}")
            eids.append({"source": "liveramp.com", "uids": [{"id": value, "atype": 3}]})
        if rng.random() < 0.3:
            eids.append({"source": "id5-sync.com",
                         "uids": [{"id": f"ID5*{rng.getrandbits(96):024x}", "atype": 1}]})
        if token is not None:
            eids.append({"source": "uidapi.com", "uids": [{"id": token, "atype": 3}]})
        return eids

    def rtd(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        rng = self.rng
        app = rng.random() < self.plan.app_share
        label, token = self.uid2()
        headers: dict[str, str] = {}
        ios = rng.random() < 0.5
        device: dict[str, Any] = {"ua": UA_IOS if ios else UA_ANDROID, "ip": self.ip(),
                                  "geo": {"country": "USA",
                                          "zip": "55555" if self.hit() else f"{rng.randrange(10000, 99999)}",
                                          "city": "New City"}}
        doc: dict[str, Any] = {"id": uuid.UUID(int=rng.getrandbits(128)).hex,
                               "imp": [{"id": "1", "tagid": "12345_12345", "secure": 1,
                                        "banner": {"w": 728, "h": 90, "pos": 1, "topframe": 0},
                                        "ext": {"gpid": "/1234567/home/mpu/atf"}}],
                               "device": device}
        user: dict[str, Any] = {}
        if app:
            bundle = "123456789" if self.hit() else f"com.unknown.app{rng.randrange(10_000)}"
            doc["app"] = {"id": "12345", "name": "App Name", "bundle": bundle, "domain": "appexample.com",
                          "storeurl": "https://apps.apple.com/app/idexample", "cat": ["IAB9-7"],
                          "ver": "4.56.0",
                          "publisher": {"id": "555555", "name": "Publisher Name", "domain": "appexample.com"}}
            device["os"] = "iOS" if ios else "Android"
            if rng.random() < 0.8:
                device["ifa"] = (rng.choice(self.keys.ifa) if self.hit() and self.keys.ifa
                                 else str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            if rng.random() < 0.1:
                device["lmt"] = 1
        else:
            page = self.page()
            host = page.split("/")[2].removeprefix("www.")
            doc["site"] = {"id": "12345", "page": page, "domain": host, "ref": "https://exampleref.com/",
                           "publisher": {"id": "555555", "domain": host, "name": "Publisher Name"},
                           "content": {"url": page + "content-link/"}}
            if rng.random() < 0.7:
                user["id"] = (rng.choice(self.keys.user_ids) if self.hit() and self.keys.user_ids
                              else f"u{rng.getrandbits(64):016x}")
        eids = self.eids(token)
        if eids:
            if rng.random() < 0.5:
                user.setdefault("ext", {})["eids"] = eids  # 2.5 location (Index's samples)
            else:
                user["eids"] = eids  # 2.6 location
        if user:
            doc["user"] = user
        consent = CONSENTS[rng.choices(range(len(CONSENTS)), self._consent_weights)[0]][0]
        _apply_consent(consent, doc, headers, rng.random() < 0.5)
        return f"{'app' if app else 'web'}-{label}", doc, headers

    def segments_query(self) -> tuple[str, dict[str, str]]:
        rng, keys = self.rng, self.keys
        roll = rng.random()
        if roll < 0.45:
            page = self.page().split("://", 1)[1]
            return "seg-url", {"url": page}
        if roll < 0.60:
            bundle = "123456789" if self.hit() else f"com.unknown.app{rng.randrange(10_000)}"
            return "seg-bundle", {"bundle": bundle}
        if roll < 0.75:
            ifa = rng.choice(keys.ifa) if self.hit() and keys.ifa else str(uuid.UUID(int=rng.getrandbits(128),
                                                                                     version=4))
            return "seg-ifa", {"ifa": ifa}
        if roll < 0.85:
            return "seg-ip", {"ip": self.ip()}
        if roll < 0.95:
            return "seg-geo", {"country": "USA",
                               "zip": "55555" if self.hit() else str(rng.randrange(10000, 99999))}
        return "seg-url+content_id", {"url": self.page().split("://", 1)[1],
                                      "content_id": f"c{rng.randrange(1000)}"}


def _post(path: str, body: bytes, headers: dict[str, str], bearer: str | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _get(target: str, bearer: str | None) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1"]
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def build(plan: TrafficPlan, *, count: int = 2000, endpoint: str = "rtd", bearer: str | None = None,
          uid2_document: dict[str, Any] | None = None, keys: DemoKeys | None = None) -> list[Prepared]:
    """``count`` distinct requests for ``endpoint`` (``rtd`` or ``segments``); the generator cycles them.

    The bytes do not depend on the server (``Host: 127.0.0.1``), so ours and bare get the same ones.
    """
    from urllib.parse import urlencode

    rng = random.Random(plan.seed * 1_000_003 + count)
    builder = _Builder(plan, keys or demo_keys(plan),
                       make_minter(uid2_document) if endpoint == "rtd" else None, rng)
    out: list[Prepared] = []
    for _ in range(count):
        if endpoint == "rtd":
            label, doc, headers = builder.rtd()
            out.append(Prepared(label, _post("/rtd", orjson.dumps(doc), headers, bearer)))
        elif endpoint == "segments":
            label, query = builder.segments_query()
            out.append(Prepared(label, _get("/segments?" + urlencode(query), bearer)))
        else:
            raise ValueError(f"unknown endpoint {endpoint!r}")
    return out


def describe(requests: list[Prepared]) -> dict[str, int]:
    """How many requests of each label (for the report)."""
    out: dict[str, int] = {}
    for r in requests:
        out[r.label] = out.get(r.label, 0) + 1
    return dict(sorted(out.items()))


def random_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()
