from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from server.mirror.cli import app
from server.mirror.outbox import Outbox
from server.mirror.types import SegBlock

runner = CliRunner()


def test_status_json(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.add_many([("u1", None, SegBlock(seg_id=1, expiration=1440))])
    box.add_many([("u2", None, SegBlock(seg_code="x"))])
    box.dead_letter([box.fetch(10)[1].id], "missing_segment_id")
    box.record_auth("ok")
    box.close()
    result = runner.invoke(app, ["status", "--data-dir", str(tmp_path), "--json"],
                           env={"SEGMENT_SERVER_MIRROR__PASSWORD": "hunter2"})
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.output)
    assert doc["depth"] == 1 and doc["dead_letters"] == {"missing_segment_id": 1}
    assert doc["last_auth"]["result"] == "ok" and doc["oldest_age_seconds"] is not None
    assert "hunter2" not in result.output


def test_status_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "depth" in result.output


def test_retry_dead_letters(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.add_many([("u1", None, SegBlock(seg_code="x"))])
    box.dead_letter([box.fetch(1)[0].id], "missing_segment_id")
    box.close()
    result = runner.invoke(app, ["retry-dead-letters", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "requeued 1" in result.output
    box = Outbox(tmp_path)
    assert box.depth() == 1
    box.close()


def test_remove(tmp_path: Path) -> None:
    result = runner.invoke(app, ["remove", "--user", "AEBE52E7", "--domain", "idfa", "--segment", "10001",
                                 "--segment", "10002", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    box = Outbox(tmp_path)
    assert [(i.user_id, i.domain, i.block.seg_id, i.block.expiration) for i in box.fetch(10)] == [
        ("AEBE52E7", "idfa", 10001, -1), ("AEBE52E7", "idfa", 10002, -1)]
    box.close()


def test_remove_rejects_unknown_domain(tmp_path: Path) -> None:
    result = runner.invoke(app, ["remove", "--user", "u", "--domain", "uid2", "--segment", "1",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
