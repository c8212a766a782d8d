import gzip
from pathlib import Path

import pytest

from segments.rows import Membership, Rejected, RowError, iter_memberships, iter_taxonomy, parse_expires


def test_csv_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "kind,key,segments,expires\n"
        "url,https://www.example.com/sports/,sports;football,\n"
        "uid2,abc=,cars,2030-01-01T00:00:00Z\n"
        "planet,mars,sports,\n"
        "ip,10.0.0.0/24,,\n"
        "url,example.com,sports,tomorrow\n"
        "url,example.com,sports,,extra\n"
    )
    out = list(iter_memberships(path))
    assert out[0] == Membership("url:example.com/sports", ("sports", "football"), None, str(path), 2)
    assert out[1] == Membership("uid2:abc=", ("cars",), 1893456000, str(path), 3)
    rejected = [r for r in out if isinstance(r, Rejected)]
    assert [(r.line, r.reason.split(" ")[0]) for r in rejected] == [
        (4, "unknown"), (5, "a"), (6, "expires"), (7, "more")]


def test_jsonl_gzip_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"kind": "eid", "key": "LiveRamp.com:XY", "segments": ["ramp"], "expires": 1900000000}\n')
        fh.write("\n")
        fh.write("{not json\n")
        fh.write("[1, 2]\n")
        fh.write('{"kind": "ifa", "key": 5, "segments": [true]}\n')
    out = list(iter_memberships(path))
    assert out[0] == Membership("eid:liveramp.com:XY", ("ramp",), 1900000000, str(path), 1)
    assert [(r.line, r.reason) for r in out[1:] if isinstance(r, Rejected)] == [
        (3, out[1].reason), (4, "a row must be a JSON object"),
        (5, "segments must be a ';'-separated string or a list of ids")]
    assert "invalid JSON" in out[1].reason


def test_index_taxonomy_shape(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.json"
    path.write_text('{"version": "2.0", "segments": [{"externalSegmentID": "cat_owners", '
                    '"externalSegmentName": "Cat owners"}, {"externalSegmentName": "no id"}, '
                    '{"externalSegmentID": "x", "externalSegmentName": "' + "n" * 300 + '"}]}')
    out = list(iter_taxonomy(path))
    assert out[0].id == "cat_owners" and out[0].name == "Cat owners"
    assert isinstance(out[1], Rejected) and out[1].line == 2 and "id is required" in out[1].reason
    assert isinstance(out[2], Rejected) and "255" in out[2].reason


def test_taxonomy_csv_with_xandr_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,name,ttl_seconds,deal_ids,xandr_seg_id,xandr_seg_code,xandr_member_id\n"
                    "a,A,60,D1;D2,123,,\n"
                    "b,B,,,,code,958\n"
                    "c,C,,,5,code,958\n"
                    "d,D,-1,,,,\n")
    a, b, c, d = list(iter_taxonomy(path))
    assert a.ttl_seconds == 60 and a.deal_ids == ("D1", "D2") and a.xandr.seg_id == 123
    assert b.xandr.seg_code == "code" and b.xandr.member_id == 958
    assert isinstance(c, Rejected) and "never both" in c.reason
    assert isinstance(d, Rejected) and "ttl" in d.reason


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("1700000000", 1700000000, id="epoch-string"),
    pytest.param(1700000000.5, 1700000000, id="epoch-float"),
    pytest.param("2023-11-14T22:13:20", 1700000000, id="naive-is-utc"),
    pytest.param("2023-11-14T23:13:20+01:00", 1700000000, id="offset"),
    pytest.param("", None, id="empty"),
])
def test_parse_expires(value: object, expected: int | None) -> None:
    assert parse_expires(value) == expected


def test_parse_expires_rejects_bool() -> None:
    with pytest.raises(RowError):
        parse_expires(True)


def test_unknown_extension_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    path.write_text("")
    with pytest.raises(RowError):
        list(iter_memberships(path))


def test_xandr_id_links(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("kind,key,segments,expires,xandr_id\n"
                    "uid2,abc,cars,,8765432109876543210\n"
                    "uid2,def,cars,,\n"
                    "uid2,ghi,cars,,not-a-number\n"
                    "uid2,jkl,cars,,0\n")
    a, b, c, d = list(iter_memberships(path))
    assert a.xandr_id == "8765432109876543210" and b.xandr_id is None
    assert isinstance(c, Rejected) and "xandr_id" in c.reason
    assert isinstance(d, Rejected)


def test_jsonl_lines_across_read_blocks_keep_their_numbers(tmp_path: Path) -> None:
    # The reader splits 1 MiB blocks: rows straddling a block boundary, CRLF endings, blank lines
    # and a last line without a newline must all come out whole with their physical line numbers.
    path = tmp_path / "m.jsonl.gz"
    rows = [f'{{"kind": "user_id", "key": "u{i:07d}{"x" * (i % 300)}", "segments": ["s"]}}'
            for i in range(20_000)]
    body = "\r\n".join(rows[:10_000]) + "\n\n" + "\n".join(rows[10_000:])
    with gzip.open(path, "wt") as fh:
        fh.write(body)
    out = list(iter_memberships(path))
    assert len(out) == 20_000 and all(isinstance(m, Membership) for m in out)
    assert [m.line for m in out[9_999:10_001]] == [10_000, 10_002]
    assert out[-1].key == f"user_id:u{19_999:07d}{'x' * (19_999 % 300)}" and out[-1].line == 20_001
