"""The segment taxonomy: what a segment id means, how long it may be cached, what it activates.

Index registers a partner's taxonomy as JSON ``{"version": "2.0", "segments": [{"externalSegmentID",
"externalSegmentName"}]}`` (both ≤ 255 UTF-8 characters; reference §A6). We accept that shape and
our own CSV/JSONL rows, which add a TTL, the deal ids a segment activates and an optional Xandr
mapping for the Instant Audience mirror.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_ID_LENGTH = 255  # Index taxonomy file: externalSegmentID / externalSegmentName ≤ 255 chars


class InvalidSegment(ValueError):
    """A taxonomy row that cannot be accepted; the message names the field."""


@dataclass(frozen=True, slots=True)
class XandrMapping:
    """Where a segment lands in Xandr's ``rt-segment`` ``seg_block``.

    Xandr: "``seg_id`` (int) **or** ``seg_code`` (string) + ``member_id`` (int) — not both";
    ``expiration`` is minutes, 0 = never expire, -1 = remove (reference §B3).
    """

    seg_id: int | None = None
    seg_code: str | None = None
    member_id: int | None = None
    value: int | None = None
    expiration: int | None = None  # minutes; None → the member's default expiration

    def __post_init__(self) -> None:
        by_id = self.seg_id is not None
        by_code = self.seg_code is not None or self.member_id is not None
        if by_id == by_code:
            raise InvalidSegment("xandr mapping needs seg_id, or seg_code + member_id (never both)")
        if by_code and (self.seg_code is None or self.member_id is None):
            raise InvalidSegment("xandr seg_code needs member_id (and member_id needs seg_code)")
        if self.expiration is not None and self.expiration < -1:
            raise InvalidSegment("xandr expiration is minutes: 0 = never, -1 = remove, or positive")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("seg_id", self.seg_id), ("seg_code", self.seg_code),
                                  ("member_id", self.member_id), ("value", self.value),
                                  ("expiration", self.expiration)) if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> XandrMapping:
        def opt_int(name: str) -> int | None:
            v = data.get(name)
            if v is None or v == "":
                return None
            if isinstance(v, bool):
                raise InvalidSegment(f"xandr.{name} must be an integer")
            try:
                return int(v)
            except (TypeError, ValueError):
                raise InvalidSegment(f"xandr.{name} must be an integer") from None

        code = data.get("seg_code")
        return cls(seg_id=opt_int("seg_id"), seg_code=str(code) if code not in (None, "") else None,
                   member_id=opt_int("member_id"), value=opt_int("value"), expiration=opt_int("expiration"))


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str = ""
    ttl_seconds: int | None = None  # Cache-Control max-age for /segments answers carrying it
    deal_ids: tuple[str, ...] = ()
    xandr: XandrMapping | None = None
    classifying: bool = False  # data still being built: /segments answers no-cache

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.ttl_seconds is not None:
            out["ttl_seconds"] = self.ttl_seconds
        if self.deal_ids:
            out["deal_ids"] = list(self.deal_ids)
        if self.xandr is not None:
            out["xandr"] = self.xandr.as_dict()
        if self.classifying:
            out["classifying"] = True
        return out


def segment_from_row(row: Mapping[str, Any]) -> Segment:
    """Build a segment from our own row shape or Index's ``externalSegmentID`` shape."""
    raw_id = row.get("id", row.get("externalSegmentID", row.get("segment_id")))
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or str(raw_id).strip() == "":
        raise InvalidSegment("segment id is required (id / externalSegmentID)")
    seg_id = str(raw_id).strip()
    name = row.get("name", row.get("externalSegmentName", ""))
    if not isinstance(name, str):
        raise InvalidSegment("segment name must be a string")
    if len(seg_id) > MAX_ID_LENGTH or len(name) > MAX_ID_LENGTH:
        raise InvalidSegment(f"segment id and name are at most {MAX_ID_LENGTH} characters")
    ttl = row.get("ttl_seconds", row.get("ttl"))
    if ttl in (None, ""):
        ttl_seconds = None
    else:
        try:
            ttl_seconds = int(ttl)
        except (TypeError, ValueError):
            raise InvalidSegment("ttl_seconds must be an integer") from None
        if ttl_seconds < 0:
            raise InvalidSegment("ttl_seconds must be ≥ 0")
    deals = row.get("deal_ids", ())
    if isinstance(deals, str):
        deals = [d for d in deals.replace(";", ",").split(",") if d.strip()]
    if not isinstance(deals, (list, tuple)) or not all(isinstance(d, (str, int)) for d in deals):
        raise InvalidSegment("deal_ids must be a list of strings")
    xandr_raw = row.get("xandr")
    if xandr_raw is None and any(k in row for k in ("xandr_seg_id", "xandr_seg_code")):
        xandr_raw = {k[6:]: row.get(k) for k in ("xandr_seg_id", "xandr_seg_code", "xandr_member_id",
                                                   "xandr_value", "xandr_expiration")}
        if all(v in (None, "") for v in xandr_raw.values()):
            xandr_raw = None
    if xandr_raw is not None and not isinstance(xandr_raw, Mapping):
        raise InvalidSegment("xandr must be an object")
    xandr = XandrMapping.from_dict(xandr_raw) if xandr_raw is not None else None
    classifying = row.get("classifying", False) in (True, 1, "1", "true", "yes")
    return Segment(id=seg_id, name=name, ttl_seconds=ttl_seconds,
                   deal_ids=tuple(str(d).strip() for d in deals), xandr=xandr, classifying=classifying)


@dataclass(slots=True)
class Taxonomy:
    """All segments of one store snapshot, held in memory (thousands of rows, not millions)."""

    segments: dict[str, Segment] = field(default_factory=dict)

    def get(self, segment_id: str) -> Segment | None:
        return self.segments.get(segment_id)

    def __len__(self) -> int:
        return len(self.segments)

    def __contains__(self, segment_id: object) -> bool:
        return segment_id in self.segments
