"""Reading membership and taxonomy files: CSV or JSONL, optionally gzip, one row at a time.

Every row either becomes a typed value or a :class:`Rejected` with its file and line number; the
loader reports rejections and never drops a row silently.

Membership rows (CSV header or JSONL keys)::

    kind,key,segments,expires,xandr_id
    uid2,AbCd…=,auto_intenders;sports,2026-12-31T00:00:00Z,8765432109876543210
    url,example.com/sports,sports,
    eid,liveramp.com:XY123,auto_intenders,
    geo,USA:10001,nyc_metro,

``segments`` is ``;``-separated in CSV or a list in JSONL; ``expires`` is ISO 8601 or epoch seconds;
the optional ``xandr_id`` links the key to a Xandr user id for the rt-segment mirror.

DII rows (``kind`` = ``email``, ``phone``, ``email_hash`` or ``phone_hash``) are normalised and
hashed right here, so raw DII goes no further than this function; they come back as
:class:`DiiMembership` and the loader hands them to the UID2 identity table, not the snapshot::

    email,Jane.Doe+news@gmail.com,auto_intenders,
    phone_hash,EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=,sports,
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from segments import keys as K
from segments.taxonomy import InvalidSegment, Segment, segment_from_row


@dataclass(frozen=True, slots=True)
class Rejected:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Membership:
    key: str  # "<kind>:<normalised value>"
    segments: tuple[str, ...]
    expires: int | None
    path: str = ""  # where the row came from, so later rejections still name file and line
    line: int = 0
    xandr_id: str | None = None  # an id link: this key's Xandr user id, for the rt-segment mirror


@dataclass(frozen=True, slots=True)
class DiiMembership:
    """A membership keyed by a DII hash (``"email_hash:<b64>"``); mapped to ``uid2:<u>`` later."""

    did: str
    segments: tuple[str, ...]
    expires: int | None
    path: str = ""
    line: int = 0


DII_ROW_KINDS = frozenset({"email", "phone", "email_hash", "phone_hash"})


class RowError(ValueError):
    pass


# Called with the raw (possibly compressed) file as it is opened: its ``tell()`` is how far a
# load has read, which a progress bar turns into a fraction of the file size.
OnOpen = Callable[[IO[bytes]], None]


def open_text(path: Path, on_open: OnOpen | None = None) -> IO[str]:
    return io.TextIOWrapper(open_binary(path, on_open), encoding="utf-8", newline="")


class _OwningGzip(gzip.GzipFile):
    """A GzipFile over a file object it closes too (``gzip.open`` would hide the raw file)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_binary(path: Path, on_open: OnOpen | None = None) -> gzip.GzipFile | io.BufferedReader:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name says)."""
    raw = path.open("rb")
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    if on_open is not None:
        on_open(raw)
    return _OwningGzip(raw) if gzipped else raw


def file_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    raise RowError(f"{path}: unknown format (expected .csv, .jsonl or .json, optionally .gz)")


def iter_records(path: Path, on_open: OnOpen | None = None
                 ) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    """(line number, record) for CSV/JSONL; unparsable lines come back as :class:`Rejected`."""
    fmt = file_format(path)
    if fmt == "jsonl":
        with open_binary(path, on_open) as raw:
            yield from _jsonl_records(path, raw)
    elif fmt == "csv":
        with open_text(path, on_open) as fh:
            tsv = path.name.lower().removesuffix(".gz").endswith(".tsv")
            reader = csv.DictReader(fh, delimiter="\t" if tsv else ",")
            for row in reader:
                if None in row:
                    yield reader.line_num, Rejected(str(path), reader.line_num, "more fields than the header")
                    continue
                yield reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}
    else:
        raise RowError(f"{path}: .json is for taxonomy files; use .jsonl for memberships")


def _jsonl_records(path: Path, fh: io.BufferedIOBase) -> Iterator[tuple[int, dict[str, Any] | Rejected]]:
    # Bytes in 1 MiB blocks split on b"\n", each line handed to orjson as bytes: half the cost of
    # iterating a text wrapper line by line (no decode, no readline per line) on a 10 M-row file.
    n = 0
    rest = b""
    while True:
        block = fh.read(1 << 20)
        lines = (rest + block).split(b"\n")
        rest = lines.pop() if block else b""
        for line in lines:
            n += 1
            if not line or line.isspace():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield n, Rejected(str(path), n, f"invalid JSON: {exc.msg}")
                continue
            if not isinstance(obj, dict):
                yield n, Rejected(str(path), n, "a row must be a JSON object")
                continue
            yield n, obj
        if not block:
            return


def parse_expires(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise RowError("expires must be ISO 8601 or epoch seconds")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"expires {text[:40]!r} is neither ISO 8601 nor epoch seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def parse_segments(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[str] = value.replace(",", ";").split(";")
    elif type(value) is list and set(map(type, value)) <= {str}:
        items = value  # the usual JSONL shape, checked at C speed
    elif isinstance(value, list) and all(isinstance(s, (str, int)) and not isinstance(s, bool)
                                         for s in value):
        items = [str(s) for s in value]
    else:
        raise RowError("segments must be a ';'-separated string or a list of ids")
    unique = dict.fromkeys(map(str.strip, items))
    unique.pop("", None)
    if not unique:
        raise RowError("a membership row needs at least one segment id")
    return tuple(unique)


Row = tuple[str, tuple[str, ...], int | None, str | None]
"""A non-DII membership as the bulk loader takes it: ``(key, segments, expires, xandr_id)``."""


def parse_row(record: dict[str, Any], path: str = "", line: int = 0) -> Row | DiiMembership:
    """Validate and normalise one record: a plain :data:`Row`, or a :class:`DiiMembership`.

    The bulk loader calls this once per input row (10 M times for issue #3's target); a plain
    tuple costs a tenth of building a frozen :class:`Membership`.
    """
    kind = record.get("kind")
    value = record.get("key")
    if not isinstance(kind, str) or not kind.strip():
        raise RowError("kind is required")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RowError("key is required")
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        raise RowError("key is required")
    kind = kind.strip().lower()
    if kind in DII_ROW_KINDS:
        return DiiMembership(_dii_id(kind, text), parse_segments(record.get("segments")),
                             parse_expires(record.get("expires")), path, line)
    try:
        normalised = K.normalise(kind, text)
    except K.InvalidKey as exc:
        raise RowError(str(exc)) from None
    segments = parse_segments(record.get("segments"))
    expires = record.get("expires")
    xandr_id = record.get("xandr_id")
    return (K.make(kind, normalised), segments, None if expires is None else parse_expires(expires),
            None if xandr_id is None else parse_xandr_id(xandr_id))


def membership_from_record(record: dict[str, Any], path: str = "", line: int = 0
                           ) -> Membership | DiiMembership:
    return _as_membership(parse_row(record, path, line), path, line)


def _as_membership(row: Row | DiiMembership, path: str, line: int) -> Membership | DiiMembership:
    if isinstance(row, DiiMembership):
        return row
    key, segments, expires, xandr_id = row
    return Membership(key, segments, expires, path, line, xandr_id)


def parse_xandr_id(value: Any) -> str | None:
    """Xandr user ids are unsigned 64-bit integers, sent to rt-segment as strings (domain null)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or len(text) > 20 or int(text) == 0:
        raise RowError("xandr_id must be a Xandr user id (a positive integer)")
    return text


def _dii_id(kind: str, value: str) -> str:
    # Imported here: plain (non-DII) loads should not pay for importing the hashing rules.
    from segments.dii import InvalidDii, dii_id, hash_dii

    try:
        return dii_id(*hash_dii(kind, value))
    except InvalidDii as exc:
        raise RowError(f"invalid {kind}: {exc}") from None


def iter_rows(path: Path, on_open: OnOpen | None = None
              ) -> Iterator[tuple[int, Row | DiiMembership | Rejected]]:
    """``(line number, row)`` for every row of a membership file; see :func:`parse_row`."""
    name = str(path)
    for line, record in iter_records(path, on_open):
        if isinstance(record, Rejected):
            yield line, record
            continue
        try:
            yield line, parse_row(record, name, line)
        except RowError as exc:
            yield line, Rejected(name, line, str(exc))


def iter_memberships(path: Path) -> Iterator[Membership | DiiMembership | Rejected]:
    name = str(path)
    for line, row in iter_rows(path):
        yield row if isinstance(row, Rejected) else _as_membership(row, name, line)


def iter_taxonomy(path: Path) -> Iterator[Segment | Rejected]:
    """Index's taxonomy JSON (``{"version": "2.0", "segments": [...]}``) or our CSV/JSONL rows."""
    if file_format(path) == "json":
        with open_text(path) as fh:
            try:
                doc = orjson.loads(fh.read())
            except orjson.JSONDecodeError as exc:
                yield Rejected(str(path), exc.lineno, f"invalid JSON: {exc.msg}")
                return
        items = doc.get("segments") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            yield Rejected(str(path), 1, "expected {\"segments\": [...]} or a JSON array")
            return
        for n, item in enumerate(items, start=1):
            yield _segment(item, path, n, "segment #")
        return
    for line, record in iter_records(path):
        yield record if isinstance(record, Rejected) else _segment(record, path, line, "")


def _segment(item: Any, path: Path, n: int, label: str) -> Segment | Rejected:
    if not isinstance(item, dict):
        return Rejected(str(path), n, f"{label}{n}: a segment must be an object")
    try:
        return segment_from_row(item)
    except InvalidSegment as exc:
        return Rejected(str(path), n, f"{label}{exc}" if not label else f"{label}{n}: {exc}")
