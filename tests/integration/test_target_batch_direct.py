"""Parquet chunks go straight into a table that was empty, and rows equal the merged load's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.batch_files import sdk_batches
from tests.integration.conftest import Db, TargetRun, jsonl, record, schema_message, state
from tests.integration.test_target_batch import AWKWARD, PROPS, _data

Run = Callable[..., TargetRun]
STRAIGHT = "COPY straight into the empty table"


def _committed(result: TargetRun, table: str) -> list[str]:
    """The target's commit lines for ``table``, in order."""
    return [
        line for line in result.stderr.splitlines() if "Committed" in line and f".{table} " in line
    ]


def test_an_empty_table_is_loaded_straight_with_the_rows_the_merge_writes(
    run: Run, db: Db, tmp_path: Path
) -> None:
    straight = sdk_batches(tmp_path / "s", "Straight", AWKWARD, fmt="parquet", batch_size=2)
    merged = sdk_batches(tmp_path / "m", "Merged", AWKWARD, fmt="parquet", batch_size=2)
    messages = jsonl(
        schema_message("Merged", PROPS, ["Id"]),
        record("Merged", {"Id": "Z9", "Name": "already there"}),
        state({"n": 1}),  # the record is committed before the files: the table is not empty
        schema_message("Straight", PROPS, ["Id"]),
        *straight,
        *merged,
        state({"n": 2}),
    )
    result = run(messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"n": 1}, {"n": 2}]
    into_straight = _committed(result, "straight")
    assert len(into_straight) == 3
    assert all(STRAIGHT in line for line in into_straight)
    assert not any(STRAIGHT in line for line in _committed(result, "merged"))
    assert _data(db, "straight") == [r for r in _data(db, "merged") if r["salesforce_id"] != "Z9"]
    meta = "_sdc_sync_started_at, _sdc_batched_at, _sdc_received_at, _sdc_sequence"
    for row in db.select(meta, "straight"):
        assert all(value is not None for value in row.values()), row
    started = {r["_sdc_sync_started_at"] for r in db.select(meta, "straight")}
    assert started == {r["_sdc_sync_started_at"] for r in db.select(meta, "merged")}
    assert db.rejects() == []


def test_a_key_already_in_the_table_sends_that_chunk_and_the_rest_through_the_merge(
    run: Run, db: Db, tmp_path: Path
) -> None:
    first = [{"Id": f"K{i}", "Name": "first", "Count": i} for i in range(1, 5)]
    again = [{"Id": "K2", "Name": "second", "Count": 20}, {"Id": "K9", "Name": "new", "Count": 9}]
    later = [{"Id": "K10", "Name": "later", "Count": 10}]
    batches = [
        *sdk_batches(tmp_path / "1", "Keys", first, fmt="parquet"),
        *sdk_batches(tmp_path / "2", "Keys", again, fmt="parquet"),
        *sdk_batches(tmp_path / "3", "Keys", later, fmt="parquet"),
    ]
    result = run(jsonl(schema_message("Keys", PROPS, ["Id"]), *batches, state({"n": 1})))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = _committed(result, "keys")
    assert len(lines) == 3
    assert STRAIGHT in lines[0]
    assert STRAIGHT not in lines[1], "K2 is in the table: the chunk is merged"
    assert STRAIGHT not in lines[2], "after a conflict the table's chunks take the stage"
    rows = db.select("salesforce_id, name, count", "keys", order_by="salesforce_id")
    assert rows == [
        {"salesforce_id": "K1", "name": "first", "count": 1},
        {"salesforce_id": "K10", "name": "later", "count": 10},
        {"salesforce_id": "K2", "name": "second", "count": 20},
        {"salesforce_id": "K3", "name": "first", "count": 3},
        {"salesforce_id": "K4", "name": "first", "count": 4},
        {"salesforce_id": "K9", "name": "new", "count": 9},
    ]


def test_hard_deletes_never_go_straight(run: Run, db: Db, tmp_path: Path) -> None:
    batches = sdk_batches(tmp_path / "h", "Hard", AWKWARD, fmt="parquet")
    result = run(jsonl(schema_message("Hard", PROPS, ["Id"]), *batches), hard_delete=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(STRAIGHT in line for line in _committed(result, "hard"))
    ids = [r["salesforce_id"] for r in db.select("salesforce_id", "hard", order_by="salesforce_id")]
    assert ids == ["A1", "A2", "A3", "A5"], "the deleted A4 is not inserted"
