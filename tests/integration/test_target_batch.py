"""BATCH messages: files of both encodings load as their records would, rejects, files removed.

Every file here is written when the test runs, by singer-sdk's own batch writers
(``batch_files.sdk_batches``, or the whole SDK tap in ``sdk_batch_tap.py``) or by pyarrow with
explicit types (``batch_files.write_parquet``).
"""

from __future__ import annotations

import datetime
import decimal
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import simplejson

from tests.integration.batch_files import (
    batch_message,
    manifest_paths,
    sdk_batches,
    write_parquet,
)
from tests.integration.conftest import (
    TARGET_BIN,
    Db,
    TargetRun,
    jsonl,
    record,
    schema_message,
    state,
    write_config,
)
from tests.integration.sdk_batch_tap import thing

Run = Callable[..., TargetRun]
ROOT = Path(__file__).resolve().parents[2]
FORMATS = ["jsonl", "parquet"]
# Times of the load itself, which differ between two loads of the same rows.
METADATA = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_sync_started_at",
)

PROPS: dict[str, Any] = {
    "Id": {"type": "string"},
    "Name": {"type": ["null", "string"]},
    "Count": {"type": ["null", "integer"]},
    "Amount": {"type": ["null", "number"]},
    "Active": {"type": ["null", "boolean"]},
    "Seen": {"type": ["null", "string"], "format": "date-time"},
    "Born": {"type": ["null", "string"], "format": "date"},
    "At": {"type": ["null", "string"], "format": "time"},
    "IsDeleted": {"type": ["null", "boolean"]},
}
AWKWARD = [
    {"Id": "A1", "At": "10:00:00.000Z", "Name": 'comma, "quote"\nline\r\ntab\t\\ back', "Count": 9223372036854775807,
     "Amount": 0.1, "Active": True, "Seen": "2024-01-02T03:04:05.678Z", "Born": "1999-12-31",
     "IsDeleted": False},
    {"Id": "A2", "At": "23:59:59.5", "Name": "", "Count": -1, "Amount": 1e20, "Active": False,
     "Seen": "2024-06-01T12:00:00+02:00", "Born": None, "IsDeleted": False},
    {"Id": "A3", "At": None, "Name": None, "Count": None, "Amount": None, "Active": None, "Seen": None,
     "Born": "2024-02-29", "IsDeleted": None},
    {"Id": "A4", "At": "00:00:00Z", "Name": "NUL\u0000inside é ü 漢字 🎉", "Count": 0, "Amount": 2.5e-7,
     "Active": True, "Seen": "2024-01-02T03:04:05Z", "Born": "0001-01-01", "IsDeleted": True},
    {"Id": "A5", "At": "12:34", "Name": "null", "Count": 42, "Amount": 1234567.125, "Active": False,
     "Seen": "2024-01-02 03:04:05.123456", "Born": "2024-01-01", "IsDeleted": False},
]  # fmt: skip


def _ok(result: TargetRun) -> TargetRun:
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def _one_line_error(result: TargetRun) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(result.errors) == 1, result.stderr[-3000:]
    return result.errors[0]


def _data(db: Db, table: str) -> list[dict[str, Any]]:
    """The rows without the metadata columns that hold load times (deleted or not, kept)."""
    rows = db.rows(table, order_by="salesforce_id")
    return [
        {
            **{k: v for k, v in r.items() if k not in METADATA},
            "_sdc_deleted_at": r.get("_sdc_deleted_at") is not None,
        }
        for r in rows
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_sdk_tap_with_batch_config_loads_through_the_target(
    fmt: str, target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    storage = tmp_path / "batches"
    tap_config = {
        "count": 25,
        "batch_config": {
            "encoding": {"format": fmt, "compression": "gzip"},
            "storage": {"root": storage.as_uri()},
            "batch_size": 10,
        },
    }
    tap = subprocess.run(
        [sys.executable, "-m", "tests.integration.sdk_batch_tap", "--config",
         str(write_config(tmp_path, tap_config))],
        cwd=ROOT, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert b'"type":"BATCH"' in tap.stdout
    assert len(list(storage.iterdir())) == 3
    target = subprocess.run(
        [str(TARGET_BIN), "--config", str(write_config(tmp_path, target_config))],
        input=tap.stdout, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert target.returncode == 0, target.stderr.decode()[-3000:]
    rows = db.select("id, name, amount, active, updated_at, born", "things", order_by="id")
    expected = []
    for i in range(1, 26):
        value = thing(i)
        expected.append(
            {
                **value,
                "amount": None
                if value["amount"] is None
                else decimal.Decimal(str(value["amount"])),
                "updated_at": datetime.datetime.fromisoformat(value["updated_at"]),
                "born": datetime.date.fromisoformat(value["born"]),
            }
        )
    assert rows == expected
    assert list(storage.iterdir()) == [], "files are removed once their rows are committed"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "settings",
    [{}, {"hard_delete": True, "add_record_metadata": False}],
    ids=["defaults", "hard-delete-no-metadata"],
)
def test_batch_rows_load_exactly_as_the_same_records_do(
    fmt: str, settings: dict[str, Any], run: Run, db: Db, tmp_path: Path
) -> None:
    batches = sdk_batches(tmp_path / "b", "ByBatch", AWKWARD, fmt=fmt, batch_size=2)
    messages = jsonl(
        schema_message("ByRecord", PROPS, ["Id"]),
        *[record("ByRecord", r) for r in AWKWARD],
        schema_message("ByBatch", PROPS, ["Id"]),
        *batches,
        state({"n": 1}),
    )
    result = _ok(run(messages, **settings))
    assert result.states == [{"n": 1}]
    by_batch = _data(db, "by_batch")
    assert by_batch == _data(db, "by_record")
    assert db.columns("by_batch") == db.columns("by_record")
    if settings:  # A4 (IsDeleted) was deleted
        assert [r["salesforce_id"] for r in by_batch] == ["A1", "A2", "A3", "A5"]
        return
    assert [r["name"] for r in by_batch][3] == "NULinside é ü 漢字 🎉"
    deleted = {r["salesforce_id"] for r in by_batch if r["_sdc_deleted_at"]}
    assert deleted == {"A4"}
    meta = db.select("_sdc_extracted_at, _sdc_received_at, _sdc_batched_at", "by_batch")
    assert all(m["_sdc_received_at"] and m["_sdc_batched_at"] for m in meta)
    assert all(m["_sdc_extracted_at"] is None for m in meta), "a BATCH has no time_extracted"
    assert db.rejects() == []


def test_arrow_timestamps_and_dates_load_as_their_iso_strings_do(
    run: Run, db: Db, tmp_path: Path
) -> None:
    stamps = [datetime.datetime(2024, 1, 2, 3, 4, 5, 678000), None]
    url = write_parquet(
        tmp_path / "typed.parquet",
        {
            "Id": ["T1", "T2"],
            "Count": pa.array([7, None], pa.int32()),
            "Amount": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(10, 2)),
            "Seen": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
            "Born": pa.array([datetime.date(1999, 12, 31), None], pa.date32()),
            "Unknown": ["ignored", "too"],
        },
    )
    records = [
        {"Id": "T1", "Count": 7, "Amount": decimal.Decimal("1.50"),
         "Seen": "2024-01-02T03:04:05.678Z", "Born": "1999-12-31"},
        {"Id": "T2"},
    ]  # fmt: skip
    messages = (
        jsonl(schema_message("ByRecord", PROPS, ["Id"]))
        + "".join(simplejson.dumps(record("ByRecord", r), use_decimal=True) + "\n" for r in records)
        + jsonl(
            schema_message("ByBatch", PROPS, ["Id"]), batch_message("ByBatch", [url], "parquet")
        )
    )
    _ok(run(messages))
    assert _data(db, "by_batch") == _data(db, "by_record")
    assert db.select("amount::text AS a", "by_batch", order_by="salesforce_id") == [
        {"a": "1.50"},
        {"a": None},
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_rows_in_a_batch_file_are_rejected_and_the_rest_loads(
    fmt: str, run: Run, db: Db, tmp_path: Path
) -> None:
    rows = [{**AWKWARD[0], "Id": f"G{i}"} for i in range(6)]
    rows[1]["Seen"] = "2024-13-45T00:00:00Z"  # looks like ISO, PostgreSQL refuses it
    rows[3]["Seen"] = "yesterday"  # PostgreSQL would read it; the record lane refuses it
    rows[4]["Id"] = None  # a key is missing
    batches = sdk_batches(tmp_path / "b", "Bad", rows, fmt=fmt)
    result = _ok(run(jsonl(schema_message("Bad", PROPS, ["Id"]), *batches, state({"n": 1}))))
    assert result.states == [{"n": 1}]
    assert [r["salesforce_id"] for r in _data(db, "bad")] == ["G0", "G2", "G5"]
    rejects = db.rejects()
    assert len(rejects) == 3
    assert all(r["stream"] == "Bad" and r["line_number"] == 2 for r in rejects)
    reasons = " | ".join(r["reason"] for r in rejects)
    assert "Seen" in reasons
    assert "key property 'Id' is missing or null" in reasons
    raws = " | ".join(r["raw_message"] for r in rejects)
    assert "yesterday" in raws
    assert "2024-13-45" in raws
    assert manifest_paths(batches)[0].exists() is False


def test_a_chunk_postgresql_refuses_is_redone_through_the_record_lane(
    run: Run, db: Db, tmp_path: Path
) -> None:
    # Both values pass the bulk checks (Arrow reads year 0; any unsigned integer is an integer)
    # but PostgreSQL refuses them: the chunk is rolled back and its rows go the record way.
    url = write_parquet(
        tmp_path / "refused.parquet",
        {
            "Id": [f"R{i}" for i in range(6)],
            "Seen": ["2024-01-02T03:04:05Z"] * 4 + ["0000-01-01T00:00:00Z", None],
            "Count": pa.array([1, 2, 3, 4, 5, 2**63], pa.uint64()),
        },
    )
    messages = jsonl(
        schema_message("Refused", PROPS, ["Id"]),
        batch_message("Refused", [url], "parquet"),
        state({"n": 1}),
    )
    result = _ok(run(messages, batch_size_rows=3))
    assert "PostgreSQL refused a row of refused.parquet rows 4-6" in result.stderr
    assert "refused.parquet rows 1-3: 3 inserted" in result.stderr
    assert result.states == [{"n": 1}]
    assert [r["salesforce_id"] for r in _data(db, "refused")] == ["R0", "R1", "R2", "R3"]
    rejects = db.rejects()
    assert [r["raw_message"][:10] for r in rejects] == ['{"Id":"R4"', '{"Id":"R5"']
    assert "Seen" in rejects[0]["reason"]
    assert "Count" in rejects[1]["reason"]


def test_a_refused_last_chunk_is_redone_before_the_messages_after_it(
    run: Run, db: Db, tmp_path: Path
) -> None:
    refused = write_parquet(
        tmp_path / "first.parquet",
        {
            "Id": ["R0", "R1", "R2"],
            "Name": ["first", "first", "first"],
            "Count": pa.array([1, 2, 2**63], pa.uint64()),
        },
    )
    later = sdk_batches(
        tmp_path / "b", "Late", [{"Id": "R0", "Name": "second file"}], fmt="parquet"
    )
    messages = jsonl(
        schema_message("Late", PROPS, ["Id"]),
        batch_message("Late", [refused], "parquet"),
        state({"n": 1}),
        record("Late", {"Id": "R1", "Name": "a later record"}),
        state({"n": 2}),
        *later,
        state({"n": 3}),
    )
    result = _ok(run(messages))
    assert "PostgreSQL refused a row of first.parquet rows 1-3" in result.stderr
    assert result.states[0] == {"n": 1}
    assert result.states[-1] == {"n": 3}
    assert db.select("salesforce_id, name", "late", order_by="salesforce_id") == [
        {"salesforce_id": "R0", "name": "second file"},
        {"salesforce_id": "R1", "name": "a later record"},
    ]
    assert [(r["line_number"], r["raw_message"][:10]) for r in db.rejects()] == [(2, '{"Id":"R2"')]


def test_files_are_removed_after_commit_unless_keep_batch_files(
    run: Run, db: Db, tmp_path: Path
) -> None:
    batches = sdk_batches(tmp_path / "b", "Kept", AWKWARD, fmt="parquet", batch_size=2)
    files = manifest_paths(batches)
    assert len(files) == 3
    messages = jsonl(schema_message("Kept", PROPS, ["Id"]), *batches, state({"n": 1}))
    _ok(run(messages, keep_batch_files=True))
    assert all(f.exists() for f in files)
    _ok(run(messages))
    assert not any(f.exists() for f in files)
    assert len(_data(db, "kept")) == len(AWKWARD)


def test_a_missing_file_stops_with_one_line_after_committing_what_came_before(
    run: Run, db: Db, tmp_path: Path
) -> None:
    good = sdk_batches(tmp_path / "b", "Some", AWKWARD[:2], fmt="jsonl")
    gone = (tmp_path / "nowhere.json.gz").as_uri()
    messages = jsonl(
        schema_message("Some", PROPS, ["Id"]),
        *good,
        state({"n": 1}),
        record("Some", AWKWARD[2]),
        batch_message("Some", [gone], "jsonl"),
        state({"n": 2}),
    )
    result = run(messages)
    error = _one_line_error(result)
    assert "input line 5" in error
    assert "nowhere.json.gz" in error
    assert "not found" in error
    assert result.states == [{"n": 1}]
    assert [r["salesforce_id"] for r in _data(db, "some")] == ["A1", "A2", "A3"]
    assert not manifest_paths(good)[0].exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_records_and_batches_of_a_stream_apply_in_input_order(
    fmt: str, run: Run, db: Db, tmp_path: Path
) -> None:
    older = sdk_batches(tmp_path / "1", "Ord", [{"Id": "K", "Name": "from batch 1"}], fmt=fmt)
    newer = sdk_batches(tmp_path / "2", "Ord", [{"Id": "K", "Name": "from batch 2"}], fmt=fmt)
    messages = jsonl(
        schema_message("Ord", PROPS, ["Id"]),
        record("Ord", {"Id": "K", "Name": "from record 1"}),
        *older,
        record("Ord", {"Id": "K", "Name": "from record 2"}),
        *newer,
    )
    _ok(run(messages))
    assert db.select("name", "ord") == [{"name": "from batch 2"}]
    _ok(run(jsonl(schema_message("Ord", PROPS, ["Id"]), *sdk_batches(
        tmp_path / "3", "Ord", [{"Id": "K", "Name": "from batch 3"}], fmt=fmt),
        record("Ord", {"Id": "K", "Name": "from record 3"}))))  # fmt: skip
    assert db.select("name", "ord") == [{"name": "from record 3"}]


def test_without_pyarrow_jsonl_loads_and_parquet_names_the_extra(
    run: Run, db: Db, tmp_path: Path
) -> None:
    blocker = tmp_path / "no_pyarrow"
    (blocker / "pyarrow").mkdir(parents=True)
    (blocker / "pyarrow" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pyarrow'\", name='pyarrow')\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    jsonl_batches = sdk_batches(tmp_path / "j", "NoArrow", AWKWARD[:2], fmt="jsonl")
    parquet_batches = sdk_batches(tmp_path / "p", "NoArrow", AWKWARD[2:], fmt="parquet")
    result = run(
        jsonl(schema_message("NoArrow", PROPS, ["Id"]), *jsonl_batches, state({"n": 1}),
              *parquet_batches, state({"n": 2})),
        env=env,
    )  # fmt: skip
    error = _one_line_error(result)
    assert "pip install 'target-postgres-upsert[parquet]'" in error
    assert result.states == [{"n": 1}]
    assert [r["salesforce_id"] for r in _data(db, "no_arrow")] == ["A1", "A2"]
    assert all(p.exists() for p in manifest_paths(parquet_batches))


@pytest.mark.parametrize("fmt", FORMATS)
def test_stream_maps_and_patches_apply_to_batch_rows_as_to_records(
    fmt: str, run: Run, db: Db, tmp_path: Path
) -> None:
    thing = {"Id": {"type": "string"}, "Name": {"type": ["null", "string"]}}
    patch = schema_message("Thing__patch", thing, ["Id"])
    patch["schema"]["x-singer-patch"] = {"stream": "Thing"}
    rows = [{"Id": "a", "Name": "keep"}, {"Id": "b", "Name": "drop me"}, {"Id": "c", "Name": "x"}]
    messages = jsonl(
        schema_message("Thing", thing, ["Id"]),
        *sdk_batches(tmp_path / "1", "Thing", rows, fmt=fmt),
        patch,
        *sdk_batches(tmp_path / "2", "Thing__patch", [{"Id": "a", "Name": "patched"}], fmt=fmt),
    )
    stream_maps = {"Thing": {"__filter__": "Name != 'drop me'", "Upper": "Name.upper()"}}
    _ok(run(messages, stream_maps=stream_maps))
    assert db.select("salesforce_id, name, upper", "thing", order_by="salesforce_id") == [
        {"salesforce_id": "a", "name": "patched", "upper": "KEEP"},
        {"salesforce_id": "c", "name": "x", "upper": "X"},
    ]
