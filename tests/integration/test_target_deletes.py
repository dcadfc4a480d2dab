"""Deletes (IsDeleted, _sdc_deleted_at) and ACTIVATE_VERSION, soft and hard."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from tests.integration.conftest import Db, TargetRun, singer_file

Run = Callable[..., TargetRun]
UTC = datetime.UTC


def _ok(result: TargetRun) -> TargetRun:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_soft_delete_marks_rows_and_keeps_their_latest_values(run: Run, db: Db) -> None:
    result = _ok(run(singer_file("deletes.jsonl")))
    assert result.states == [{"n": 6}]  # {"n": 3} was superseded before its records committed
    rows = {r["salesforce_id"]: r for r in db.rows("account")}
    assert sorted(rows) == ["001A", "001B", "001C", "001D"]
    assert rows["001A"]["name"] == "Alpha (deleted)"
    assert rows["001A"]["is_deleted"] is True
    assert rows["001A"]["_sdc_deleted_at"] == datetime.datetime(2024, 6, 1, 8, tzinfo=UTC)
    assert rows["001B"]["_sdc_deleted_at"] == datetime.datetime(2024, 6, 2, 9, tzinfo=UTC)
    assert rows["001C"]["_sdc_deleted_at"] is None
    assert rows["001D"]["_sdc_deleted_at"] == datetime.datetime(2024, 6, 3, 10, tzinfo=UTC)


def test_a_deleted_row_delivered_again_keeps_its_first_deletion_time(run: Run, db: Db) -> None:
    _ok(run(singer_file("deletes.jsonl")))
    first = {r["salesforce_id"]: r["_sdc_deleted_at"] for r in db.rows("account")}
    _ok(run(singer_file("deletes.jsonl")))
    again = {r["salesforce_id"]: r["_sdc_deleted_at"] for r in db.rows("account")}
    assert again == first


def test_hard_delete_removes_deleted_rows(run: Run, db: Db) -> None:
    _ok(run(singer_file("deletes.jsonl"), hard_delete=True))
    rows = db.rows("account", order_by="salesforce_id")
    assert [r["salesforce_id"] for r in rows] == ["001C"]
    assert rows[0]["name"] == "Gamma"


def test_activate_version_soft_marks_rows_the_new_version_lacks(run: Run, db: Db) -> None:
    result = _ok(run(singer_file("activate_version.jsonl")))
    assert result.states[-1] == {"sync": 2}
    rows = {r["id"]: r for r in db.rows("snapshot")}
    assert sorted(rows) == ["A", "B", "C"]
    assert rows["B"]["_sdc_deleted_at"] is not None
    assert rows["A"]["_sdc_deleted_at"] is None
    assert rows["C"]["_sdc_deleted_at"] is None
    assert {k: (r["v"], r["_sdc_table_version"]) for k, r in rows.items()} == {
        "A": (2, 2),
        "B": (1, 1),
        "C": (1, 2),
    }


def test_activate_version_hard_removes_rows_the_new_version_lacks(run: Run, db: Db) -> None:
    _ok(run(singer_file("activate_version.jsonl"), hard_delete=True))
    rows = db.rows("snapshot", order_by="id")
    assert [(r["id"], r["v"], r["_sdc_table_version"]) for r in rows] == [("A", 2, 2), ("C", 1, 2)]


def test_activate_version_can_be_switched_off(run: Run, db: Db) -> None:
    _ok(run(singer_file("activate_version.jsonl"), process_activate_version_messages=False))
    rows = db.rows("snapshot", order_by="id")
    assert [r["id"] for r in rows] == ["A", "B", "C"]
    assert all(r["_sdc_deleted_at"] is None for r in rows)
