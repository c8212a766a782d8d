"""DII rows: hashed at read time, routed to the identity table, raw DII never written anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from segments.loader import load
from segments.rows import DiiMembership, Membership, RowError, membership_from_record
from server.uid2.identity import IdentityDB
from tests.helpers import TAXONOMY, write_jsonl

GMAIL = "email_hash:ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="


@pytest.mark.parametrize(("record", "did"), [
    pytest.param({"kind": "email", "key": "Jane.Saoirse+Work@gmail.com"}, GMAIL, id="email"),
    pytest.param({"kind": "EMAIL_HASH", "key": GMAIL.split(":")[1]}, GMAIL, id="email-hash"),
    pytest.param({"kind": "phone", "key": "+1 234 567 8901"},
                 "phone_hash:EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=", id="phone"),
])
def test_dii_rows_become_hashes(record: dict[str, str], did: str) -> None:
    item = membership_from_record({**record, "segments": "sports", "expires": "2030-01-01T00:00:00Z"})
    assert isinstance(item, DiiMembership) and item.did == did and item.segments == ("sports",)


@pytest.mark.parametrize(("record", "reason"), [
    pytest.param({"kind": "email", "key": "nobody"}, "invalid email: not an email address", id="email"),
    pytest.param({"kind": "phone", "key": "2345678901"}, "invalid phone: phone must be E.164", id="phone"),
])
def test_bad_dii_rows_are_rejected_without_echoing_them(record: dict[str, str], reason: str) -> None:
    with pytest.raises(RowError) as caught:
        membership_from_record({**record, "segments": "sports"})
    assert str(caught.value).startswith(reason) and record["key"] not in str(caught.value)


def test_other_rows_are_unchanged() -> None:
    record = {"kind": "uid2", "key": "abc", "segments": "sports"}
    assert isinstance(membership_from_record(record), Membership)


@pytest.mark.parametrize("mode", [pytest.param("merge", id="merge"), pytest.param("replace", id="replace")])
def test_loader_routes_dii_to_the_identity_table(tmp_path: Path, mode: str) -> None:
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    rows = write_jsonl(tmp_path / "m.jsonl", [
        {"kind": "email", "key": "Secret.Person@gmail.com", "segments": ["sports"]},
        {"kind": "phone", "key": "+447700900123", "segments": "cars"},
        {"kind": "url", "key": "example.com/a", "segments": "sports"},
    ])
    data = tmp_path / "data"
    report = load(data, [rows], [tax], mode=mode)  # type: ignore[arg-type]
    assert (report.rows, report.dii_rows, report.dii_new, report.keys) == (3, 2, 2, 1)
    assert IdentityDB(data).counts()["pending"] == 2
    for path in data.rglob("*"):
        if path.is_file():
            blob = path.read_bytes().lower()
            assert b"secret" not in blob and b"447700900123" not in blob, path


def test_replace_load_clears_dii_memberships(tmp_path: Path) -> None:
    tax = write_jsonl(tmp_path / "t.jsonl", TAXONOMY)
    data = tmp_path / "data"
    rows = [{"kind": "email", "key": "a@x.com", "segments": "sports"}]
    load(data, [write_jsonl(tmp_path / "a.jsonl", rows)], [tax])
    load(data, [write_jsonl(tmp_path / "b.jsonl", [{"kind": "url", "key": "x.com", "segments": "sports"}])],
         mode="replace")
    db = IdentityDB(data)
    assert db.members_of(["email_hash:" + "x"]) == {} and not any(db.members_of(
        [d for (d,) in db._conn.execute("SELECT did FROM dii")]).values())
